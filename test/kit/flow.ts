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

/** Creates a workspace with the admin token; returns its keys and clients for each. */
export async function createWorkspace(kit: Pick<TestHerald, 'graphqlUrl' | 'adminToken'>, name = 'Test shop') {
  const result = dataOf(await httpClient(kit.graphqlUrl, kit.adminToken)(CreateWorkspace, { name })).createWorkspace;
  if (result.__typename !== 'MutationCreateWorkspaceSuccess') throw new Error(`createWorkspace failed: ${JSON.stringify(result)}`);
  const { workspace, secretKey, publishableKey } = result.data;
  return {
    workspace,
    secretKey,
    publishableKey,
    secret: httpClient(kit.graphqlUrl, secretKey),
    publishable: httpClient(kit.graphqlUrl, publishableKey),
  };
}
