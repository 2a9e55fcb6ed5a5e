import { beforeAll, afterAll } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import type { Workspace } from '../kit/fixture.ts';
import { startWebhookReceiver, type TestWebhookReceiver } from '../kit/webhook-receiver.ts';

/** What the webhook tests share: the receiver, the workspace's signing secret, the ledger's view. */

export const SigningSecret = graphql(`
  query WebhookSigningSecret {
    viewer { webhookSigningSecret }
  }
`);

export const WebhookMessages = graphql(`
  query WebhookMessages($id: ID!) {
    campaign(id: $id) {
      status
      channel
      stats { targeted sent failed suppressed queued }
      messages(first: 50) { edges { node { id status reason error attempts channel contact { externalId } } } }
    }
  }
`);

export const UpsertWebhookContact = graphql(`
  mutation WebhookUpsertContact($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id } } ... on Error { message } }
  }
`);

/**
 * Starts a receiver before Herald starts (register it before useHerald): `env` gains
 * HERALD_WEBHOOK_CA, so Herald trusts the receiver's certificate.
 */
export function useReceiver(env: Record<string, string>): { readonly receiver: TestWebhookReceiver } {
  let receiver: TestWebhookReceiver | undefined;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    env.HERALD_WEBHOOK_CA = receiver.caFile;
  });
  afterAll(() => receiver?.close());
  return {
    get receiver() {
      if (!receiver) throw new Error('the webhook receiver is not started yet');
      return receiver;
    },
  };
}

/** The workspace's signing secret, read with its secret key. */
export async function signingSecretOf(workspace: Pick<Workspace, 'secret'>): Promise<string> {
  return dataOf(await workspace.secret(SigningSecret)).viewer.webhookSigningSecret!;
}

/** The ledger uuid inside a Message's global id: the webhook-id of its requests. */
export const ledgerIdOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

export async function messagesOf(workspace: Pick<Workspace, 'secret'>, id: string) {
  const campaign = dataOf(await workspace.secret(WebhookMessages, { id })).campaign!;
  return { ...campaign, messages: campaign.messages.edges.map((edge) => edge.node) };
}
