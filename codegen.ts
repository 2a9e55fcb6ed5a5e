import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the tests (and any TypeScript client): every `graphql(`…`)` in test/ gets
 * result and variable types from schema/schema.graphql. Run by `npm test` first, or `npm run codegen`.
 * The dashboard's (src/dashboard/generated/) is committed, so a fresh clone builds and starts
 * without running codegen; only the types of its own operations are written, so it changes when
 * the dashboard's documents do, not with every addition to the schema.
 */
const scalars = { DateTime: 'string', JSON: 'unknown', JSONObject: 'Record<string, unknown>', TimeZone: 'string', LocalTime: 'string' };

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: {
    'src/dashboard/generated/': {
      documents: ['src/dashboard/**/*.{ts,tsx}', '!src/dashboard/generated/**'],
      preset: 'client',
      config: { useTypeImports: true, enumsAsTypes: true, onlyOperationTypes: true, scalars },
      presetConfig: { fragmentMasking: false },
    },
    'test/generated/': {
      documents: ['test/**/*.ts', '!test/generated/**'],
      preset: 'client',
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
