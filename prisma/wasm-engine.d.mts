// Types for prisma/wasm-engine.mjs, so TypeScript (src/db/schema-engine.ts) can import it.
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import type { ClientConfig, QueryResult } from 'pg';

export type { SchemaEngine };

export interface OpenedSchemaEngine {
  engine: SchemaEngine;
  /** Frees the engine and closes its pools (dropping a shadow database still open). */
  close(): Promise<void>;
}

export function loadSchemaEngineWasm(): Promise<typeof import('@prisma/schema-engine-wasm')>;
export function lastPanic(): string | undefined;
export function pgConfigFromUrl(databaseUrl: string): ClientConfig & { database: string };
export function runSql(config: ClientConfig, sql: string): Promise<QueryResult>;
export function createAdapterFactory(options: { url: string; shadowDatabaseUrl?: string }): {
  factory: object;
  close(): Promise<void>;
};
export function openSchemaEngine(options: {
  url?: string;
  shadowDatabaseUrl?: string;
  /** [path, content] pairs of Prisma schema files. */
  datamodels?: [string, string][];
  /** No database at all: for diffs between Prisma schemas or from empty. */
  offline?: boolean;
  log?: (line: string) => void;
}): Promise<OpenedSchemaEngine>;
