import { afterAll, beforeAll } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, type httpClient } from '../kit/client.ts';
import { startTwilio, type TestTwilio } from '../kit/twilio-server.ts';

type Client = ReturnType<typeof httpClient>;

/**
 * A local Twilio for the calling scope. Call it before useHerald and pass `env` on:
 * `const t = useTwilio(); const h = useHerald(t.env, { push: false });`.
 */
export function useTwilio() {
  let twilio: TestTwilio | undefined;
  beforeAll(async () => {
    twilio = await startTwilio();
  });
  afterAll(() => twilio?.close());
  const get = () => {
    if (!twilio) throw new Error('the Twilio kit is not started yet');
    return twilio;
  };
  return {
    get twilio() {
      return get();
    },
    env: {
      get HERALD_PUSH_CA() {
        return get().caFile;
      },
      HERALD_SMS_ALLOWED_HOSTS: '127.0.0.1',
      HERALD_PUSH_RETRY_BASE_MS: '50',
      HERALD_PUSH_TIMEOUT_MS: '2000',
    } as Record<string, string>,
  };
}

export const SmsSettingsUpdate = graphql(`
  mutation SmsSettingsUpdate($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess {
        data { id settings { sms { accountSid from messagingServiceSid baseUrl maxSegments authTokenConfigured inboundUrl } } }
      }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

/** Points the workspace's SMS settings at the kit. */
export async function useKitAccount(secret: Client, twilio: TestTwilio, extra: Record<string, unknown> = {}) {
  const result = dataOf(
    await secret(SmsSettingsUpdate, {
      input: { sms: { accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+15017122661', baseUrl: twilio.origin, ...extra } },
    } as never),
  ).updateWorkspaceSettings;
  if (result.__typename !== 'MutationUpdateWorkspaceSettingsSuccess') throw new Error(JSON.stringify(result));
  return result.data;
}

export const SmsUpsertContact = graphql(`
  mutation SmsUpsertContact($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id smsStatus } } ... on Error { message } }
  }
`);

export async function upsertContacts(secret: Client, contacts: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const input of contacts) {
    const result = dataOf(await secret(SmsUpsertContact, { input } as never)).upsertContact;
    if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
    ids.push(result.data.id);
  }
  return ids;
}

export const SmsCampaign = graphql(`
  query SmsCampaign($id: ID!) {
    campaign(id: $id) {
      status
      channel
      sms { body segments worstCaseSegments }
      stats { targeted sent failed suppressed queued delivered undelivered unsubscribed suppressedBy { reason count } }
      messages(first: 100) { edges { node { id status reason error attempts channel deliveredAt contact { externalId phone smsStatus } } } }
    }
  }
`);

export async function smsCampaign(secret: Client, id: string) {
  const campaign = dataOf(await secret(SmsCampaign, { id })).campaign!;
  return { ...campaign, messages: campaign.messages.edges.map((edge) => edge.node) };
}

export const SmsContact = graphql(`
  query SmsContact($id: ID!) { contact(id: $id) { id phone smsStatus } }
`);
