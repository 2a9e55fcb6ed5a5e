import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { graphql } from '../generated/index.ts';
import { dataOf, type httpClient } from './client.ts';
import type { TestPushService } from './push-service.ts';

type Client = ReturnType<typeof httpClient>;

export const CreateCampaign = graphql(`
  mutation KitCreateCampaign($input: CampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on MutationCreateCampaignSuccess { data { id status } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

export const SendNow = graphql(`
  mutation KitSendNow($id: ID!) {
    sendCampaignNow(input: { id: $id }) {
      __typename
      ... on MutationSendCampaignNowSuccess { data { id status } }
      ... on Error { code message }
    }
  }
`);

const Activate = graphql(`
  mutation KitActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on MutationActivateCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);

export const CampaignState = graphql(`
  query KitCampaignState($id: ID!) {
    campaign(id: $id) {
      id
      status
      stats { targeted queued sent failed expired suppressed suppressedBy { reason count } displayed clicked conversions clickRate conversionRate }
    }
  }
`);

const Register = graphql(`
  mutation KitRegister($input: MutationRegisterPushSubscriptionInput!) {
    registerPushSubscription(input: $input) {
      __typename
      ... on MutationRegisterPushSubscriptionSuccess { data { id } }
      ... on Error { code message }
    }
  }
`);

/**
 * A visitor's browser subscribed at the test push service and registered with Herald. A page
 * (see flow.ts) naming a customer sends the identity token its site's server gave it.
 */
export async function subscribeBrowser(
  client: Client & { identityTokenFor?: (externalId: string) => string },
  push: TestPushService,
  contact: { externalId?: string; anonymousId?: string; timezone?: string },
) {
  const browser = push.subscribe();
  const { externalId, anonymousId, timezone } = contact;
  const identityToken = externalId ? client.identityTokenFor?.(externalId) : undefined;
  const result = dataOf(await client(Register, { input: { externalId, anonymousId, identityToken, timezone, subscription: browser.json } })).registerPushSubscription;
  if (result.__typename !== 'MutationRegisterPushSubscriptionSuccess') throw new Error(`register failed: ${JSON.stringify(result)}`);
  return { browser, subscriptionId: result.data.id };
}

/** Creates a campaign from a plain CampaignInput object; fails the test on any error. */
export async function createCampaign(secret: Client, input: Record<string, unknown>) {
  const result = dataOf(await secret(CreateCampaign, { input } as never)).createCampaign;
  if (result.__typename !== 'MutationCreateCampaignSuccess') throw new Error(`createCampaign failed: ${JSON.stringify(result)}`);
  return result.data.id;
}

/** Activates a triggered campaign; fails the test on any error. */
export async function activateCampaign(secret: Client, id: string) {
  const result = dataOf(await secret(Activate, { id })).activateCampaign;
  if (result.__typename !== 'MutationActivateCampaignSuccess') throw new Error(`activateCampaign failed: ${JSON.stringify(result)}`);
}

export async function campaignState(secret: Client, id: string) {
  const campaign = dataOf(await secret(CampaignState, { id })).campaign;
  if (!campaign) throw new Error('campaign not found');
  return campaign;
}

/** Polls until the campaign reaches `status` (default SENT). */
export async function waitForStatus(secret: Client, id: string, status = 'SENT', timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const campaign = await campaignState(secret, id);
    if (campaign.status === status) return campaign;
    if (Date.now() > deadline) throw new Error(`campaign still ${campaign.status} after ${timeoutMs} ms: ${JSON.stringify(campaign.stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `count` contacts with one subscribed browser each, written straight into the database (fast). */
export async function seedBrowsers(databaseUrl: string, workspaceGlobalId: string, push: TestPushService, count: number) {
  const workspaceId = Buffer.from(workspaceGlobalId, 'base64').toString().split(':')[1]!;
  const browsers = Array.from({ length: count }, () => push.subscribe());
  const rows = browsers.map((browser) => ({ contactId: uuidv7(), subscriptionId: uuidv7(), ...browser.json, ...browser.json.keys }));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(
    `WITH r AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r("contactId" uuid, "subscriptionId" uuid, endpoint text, p256dh text, auth text)),
     contacts AS (INSERT INTO "Contact" (id, "workspaceId", "anonymousId", "updatedAt") SELECT "contactId", $1::uuid, "contactId"::text, now() FROM r)
     INSERT INTO "PushSubscription" (id, "workspaceId", "contactId", endpoint, p256dh, auth, "updatedAt")
     SELECT "subscriptionId", $1::uuid, "contactId", endpoint, p256dh, auth, now() FROM r`,
    [workspaceId, JSON.stringify(rows)],
  );
  await client.end();
  // Each seeded contact's anonymousId is its id: events can name it.
  return browsers.map((browser, index) => ({ ...browser, anonymousId: rows[index]!.contactId }));
}

/** A message token with its MAC's first character changed (a character carrying six bits, unlike the last). */
export function forgeToken(token: string): string {
  return token.replace(/\.(.)/, (_, first: string) => `.${first === 'A' ? 'B' : 'A'}`);
}
