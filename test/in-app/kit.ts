import { expect } from 'vitest';
import { postRaw, type RawAnswer } from '../kit/client.ts';
import type { TestHerald } from '../kit/herald.ts';
import type { Workspace } from '../kit/fixture.ts';

/** What the on-site message tests share: raw GraphQL as the site's backend and as its pages. */

export type Visitor = { anonymousId?: string; externalId?: string; identityToken?: string };

export const PENDING = `query($anonymousId: String, $externalId: String, $identityToken: String) {
  inAppMessages(anonymousId: $anonymousId, externalId: $externalId, identityToken: $identityToken) {
    token layout title body imageUrl buttons { label url } question { kind text choices freeText answers } expiresAt
  }
  inAppTriggers
}`;

export interface Pending {
  token: string;
  layout: string;
  title: string | null;
  body: string | null;
  imageUrl: string | null;
  buttons: { label: string; url: string }[];
  question: { kind: string; text: string; choices: string[] | null; freeText: boolean; answers: string[] } | null;
  expiresAt: string;
}

/** The data of an answer without errors; fails the test otherwise. */
export function dataOf(answer: { body: RawAnswer }): Record<string, any> {
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  return answer.body.data!;
}

export function as(kit: TestHerald, key: string) {
  return (query: string, variables: Record<string, unknown> = {}) => postRaw(kit.graphqlUrl, key, query, variables);
}

/** The visitor's pending messages and the workspace's in-app triggers, read as a page with the publishable key. */
export async function pendingFor(kit: TestHerald, workspace: Pick<Workspace, 'publishableKey'>, visitor: Visitor): Promise<{ messages: Pending[]; triggers: string[] }> {
  const data = dataOf(await as(kit, workspace.publishableKey)(PENDING, visitor));
  return { messages: data.inAppMessages, triggers: data.inAppTriggers };
}

/** Contacts upserted with the secret key; answers their ids (global). */
export async function upsertContacts(kit: TestHerald, workspace: Pick<Workspace, 'secretKey'>, contacts: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const input of contacts) {
    const answer = await as(kit, workspace.secretKey)(
      `mutation($input: ContactInput!) { upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } } }`,
      { input },
    );
    const result = dataOf(answer).upsertContact;
    if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
    ids.push(result.data.id);
  }
  return ids;
}

/** Creates an IN_APP campaign (any extra CampaignInput fields); answers its id, or the typed failure. */
export async function createInApp(kit: TestHerald, workspace: Pick<Workspace, 'secretKey'>, inApp: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const answer = await as(kit, workspace.secretKey)(
    `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename ... on MutationCreateCampaignSuccess { data { id } } ... on ValidationError { fieldErrors { path message } } ... on Error { message } } }`,
    { input: { name: `On-site ${Date.now()}`, kind: 'BROADCAST', channel: 'IN_APP', inApp, ...extra } },
  );
  return dataOf(answer).createCampaign as { __typename: string; data?: { id: string }; fieldErrors?: { path: string[]; message: string }[] };
}

export async function recordEvent(kit: TestHerald, key: string, token: string, type: 'DISPLAYED' | 'CLICKED' | 'CLOSED') {
  const answer = await as(kit, key)(`mutation($token: String!, $type: MessageEventType!) { recordMessageEvent(input: { token: $token, type: $type }) { __typename } }`, { token, type });
  return dataOf(answer).recordMessageEvent.__typename as string;
}

export interface LedgerRow {
  id: string;
  status: string;
  reason: string | null;
  error: string | null;
  contact: { externalId: string | null; anonymousId: string | null };
}

export async function campaignOf(kit: TestHerald, workspace: Pick<Workspace, 'secretKey'>, id: string): Promise<Record<string, any> & { messages: LedgerRow[] }> {
  const answer = await as(kit, workspace.secretKey)(
    `query($id: ID!) { campaign(id: $id) { status channel inApp { layout title buttons { label url } question { kind } ttlSeconds }
      stats { targeted sent failed suppressed delivered displayed clicked closed suppressedBy { reason count } }
      messages(first: 100) { edges { node { id status reason error contact { externalId anonymousId } } } } } }`,
    { id },
  );
  const campaign = dataOf(answer).campaign;
  return { ...campaign, messages: campaign.messages.edges.map((edge: { node: LedgerRow }) => edge.node) };
}

/** Sends a broadcast now and waits until it is SENT. */
export async function sendNow(kit: TestHerald, workspace: Pick<Workspace, 'secretKey'>, id: string) {
  const answer = await as(kit, workspace.secretKey)(`mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename ... on Error { message } } }`, { id });
  expect(dataOf(answer).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
  for (const start = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const campaign = await campaignOf(kit, workspace, id);
    if (campaign.status === 'SENT') return campaign;
    if (Date.now() - start > 20_000) throw new Error(`campaign still ${campaign.status}: ${JSON.stringify(campaign.stats)}`);
  }
}
