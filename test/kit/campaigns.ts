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

/** A visitor's browser subscribed at the test push service and registered with Herald. */
export async function subscribeBrowser(publishable: Client, push: TestPushService, contact: { externalId?: string; anonymousId?: string; timezone?: string }) {
  const browser = push.subscribe();
  const { externalId, anonymousId, timezone } = contact;
  const result = dataOf(await publishable(Register, { input: { externalId, anonymousId, timezone, subscription: browser.json } })).registerPushSubscription;
  if (result.__typename !== 'MutationRegisterPushSubscriptionSuccess') throw new Error(`register failed: ${JSON.stringify(result)}`);
  return { browser, subscriptionId: result.data.id };
}

/** Creates a campaign from a plain CampaignInput object; fails the test on any error. */
export async function createCampaign(secret: Client, input: Record<string, unknown>) {
  const result = dataOf(await secret(CreateCampaign, { input } as never)).createCampaign;
  if (result.__typename !== 'MutationCreateCampaignSuccess') throw new Error(`createCampaign failed: ${JSON.stringify(result)}`);
  return result.data.id;
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
