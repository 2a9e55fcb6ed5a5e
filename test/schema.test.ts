import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../src/graphql/print-schema.ts';

describe('schema/schema.graphql', () => {
  it('is the SDL printed from the code (run `npm run schema:print` after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printedSchema());
  });

  it('keeps the root fields of the API contract', () => {
    const sdl = printedSchema();
    for (const field of [
      'node(id: ID!): Node',
      'viewer: Workspace!',
      'publicConfig: PublicConfig!',
      'workspaces: [Workspace!]!',
      'createWorkspace(input: MutationCreateWorkspaceInput!): MutationCreateWorkspaceResult!',
      'createApiKey(input: MutationCreateApiKeyInput!): MutationCreateApiKeyResult!',
      'revokeApiKey(input: MutationRevokeApiKeyInput!): MutationRevokeApiKeyResult!',
      'updateWorkspaceSettings(input: MutationUpdateWorkspaceSettingsInput!): MutationUpdateWorkspaceSettingsResult!',
      'workspaceStats: WorkspaceStats!',
    ]) {
      expect(sdl).toContain(field);
    }
  });
});
