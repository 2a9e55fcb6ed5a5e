import { createHmac } from 'node:crypto';
import { graphql } from '../generated/index.ts';
import { dataOf, httpClient } from './client.ts';
import type { TestHerald } from './herald.ts';

const CreateWorkspace = graphql(`
  mutation KitCreateWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      __typename
      ... on MutationCreateWorkspaceSuccess {
        data { secretKey publishableKey workspace { id name vapidPublicKey } }
      }
      ... on Error { code message }
    }
  }
`);

const IdentitySecret = graphql(`
  query KitIdentitySecret { viewer { identitySecret } }
`);

/** A page's `trackEvent` as raw text (what a browser posts), selecting every kind of answer. */
export const PAGE_TRACK = `mutation($input: EventInput!) {
  trackEvent(input: $input) {
    __typename
    ... on MutationTrackEventSuccess { data { id name properties occurredAt } }
    ... on ValidationError { code message fieldErrors { path message } }
    ... on Error { code message }
  }
}`;

/**
 * Creates a workspace with the admin token; returns its keys and clients for each. The
 * publishable client is a web page: `publishable.identityTokenFor(externalId)` is the token the
 * site's server would hand that page for its logged-in customer.
 */
export async function createWorkspace(kit: Pick<TestHerald, 'graphqlUrl' | 'adminToken'>, name = 'Test shop') {
  const result = dataOf(await httpClient(kit.graphqlUrl, kit.adminToken)(CreateWorkspace, { name })).createWorkspace;
  if (result.__typename !== 'MutationCreateWorkspaceSuccess') throw new Error(`createWorkspace failed: ${JSON.stringify(result)}`);
  const { workspace, secretKey, publishableKey } = result.data;
  const secret = httpClient(kit.graphqlUrl, secretKey);
  const identitySecret = dataOf(await secret(IdentitySecret)).viewer.identitySecret!;
  const identityTokenFor = (externalId: string) => createHmac('sha256', identitySecret).update(externalId).digest('hex');
  return {
    workspace,
    secretKey,
    publishableKey,
    identitySecret,
    secret,
    publishable: Object.assign(httpClient(kit.graphqlUrl, publishableKey), { identityTokenFor }),
  };
}
