// Prisma's schema engine (migrations, diffs) as WebAssembly, connected to PostgreSQL through
// @prisma/adapter-pg. Prisma's CLI would otherwise download a native binary, which fails offline.
// Used by prisma/schema-engine.mjs (the CLI's engine stand-in) and src/db/schema-engine.ts.
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';

const require = createRequire(import.meta.url);
// adapter-pg's own, exactly pinned dependency: load the copy adapter-pg uses instead of declaring it.
const { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum } = createRequire(
  require.resolve('@prisma/adapter-pg'),
)('@prisma/driver-adapter-utils');

const CHAR_OID = 18; // Postgres' one-byte "char" (pg_class.relkind and friends)
const TEXT_OID = 25;

let wasmModule;

/**
 * The engine's Rust panic hook reports the message here before the wasm traps (`unreachable`);
 * without this global, the report itself throws and crashes the process. Read it with lastPanic().
 */
let panicMessage;
globalThis.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message) => (panicMessage = message) };
export const lastPanic = () => panicMessage;

/** The wasm-bindgen module, instantiated by hand: Node 20 cannot `import` a .wasm file. */
export async function loadSchemaEngineWasm() {
  wasmModule ??= (async () => {
    const bindings = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const dir = path.dirname(require.resolve('@prisma/schema-engine-wasm'));
    const bytes = await readFile(path.join(dir, 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bindings });
    bindings.__wbg_set_wasm(instance.exports);
    instance.exports.__wbindgen_start();
    return bindings;
  })();
  return wasmModule;
}

/**
 * node-postgres settings from a postgresql:// URL, as separate fields, so that `{ ...config, database }`
 * reaches another database on the same server: pg lets a connectionString override `database` (which
 * is why adapter-pg's own shadow database pool, given a connectionString, hits the main database).
 */
export function pgConfigFromUrl(databaseUrl) {
  const url = new URL(databaseUrl);
  const params = url.searchParams;
  const sslmode = params.get('sslmode');
  return {
    host: params.get('host') ?? (decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || 'localhost'),
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    ssl: sslmode && !['disable', 'prefer', 'allow'].includes(sslmode)
      ? { rejectUnauthorized: sslmode.startsWith('verify') }
      : undefined,
    ...(params.get('schema') && { options: `-c search_path="${params.get('schema')}"` }),
  };
}

/** Runs SQL on its own short-lived connection (CREATE/DROP DATABASE cannot share a pool with it). */
export async function runSql(config, sql) {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;

/**
 * A migration-aware adapter factory for the wasm engine, plus `close()` to release what it opened.
 * The shadow database is a temporary database on the main server, dropped once its pool is closed
 * (adapter-pg's own connectToShadowDb drops it while the pool still holds connections, and leaks a pool).
 * With `shadowDatabaseUrl`, that database is emptied and used instead, like the native engine does.
 */
export function createAdapterFactory({ url, shadowDatabaseUrl }) {
  const config = pgConfigFromUrl(url);
  const schema = new URL(url).searchParams.get('schema') ?? undefined;
  const open = new Set();

  async function connect(cfg, onDispose) {
    const adapter = patchQueryable(await new PrismaPg(cfg, { schema }).connect());
    const dispose = adapter.dispose.bind(adapter);
    let disposed;
    adapter.dispose = () => {
      disposed ??= (async () => {
        open.delete(adapter);
        await dispose();
        await onDispose?.();
      })();
      return disposed;
    };
    open.add(adapter);
    return adapter;
  }

  const factory = {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connect(config),
    async connectToShadowDb() {
      if (shadowDatabaseUrl) {
        const shadowConfig = pgConfigFromUrl(shadowDatabaseUrl);
        await runSql(shadowConfig, EMPTY_DATABASE_SQL);
        return connect(shadowConfig);
      }
      const database = `prisma_migrate_shadow_db_${randomUUID()}`;
      await runSql(config, `CREATE DATABASE ${quoteIdent(database)}`);
      return connect({ ...config, database }, () =>
        runSql(config, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
      );
    },
  };

  return {
    factory: bindMigrationAwareSqlAdapterFactory(factory),
    /** Disposes every adapter still open (the engine does not always do it), dropping shadow databases. */
    async close() {
      await Promise.allSettled([...open].map((adapter) => adapter.dispose()));
    },
  };
}

// Drops everything a user can create in a database, as the native engine does to a shadowDatabaseUrl.
const EMPTY_DATABASE_SQL = `DO $$ DECLARE s text; BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
  CREATE SCHEMA public;
END $$`;

/**
 * Fixes two adapter-pg gaps the schema engine runs into (adapter-pg is pinned to an exact version):
 * - queryRaw rejects columns of type "char" (OID 18), which the engine reads from pg_catalog:
 *   hand them over as Character.
 * - executeScript splits scripts on every ";" (breaking string literals and function bodies):
 *   send the script whole instead, as the native engine does.
 */
function patchQueryable(queryable) {
  if (typeof queryable.performIO !== 'function') {
    throw new Error('prisma/wasm-engine.mjs: unexpected @prisma/adapter-pg internals (no performIO)');
  }
  const queryRaw = queryable.queryRaw;
  queryable.queryRaw = async function (query) {
    let charColumns = [];
    const performIO = async (q) => {
      const result = await this.performIO(q);
      charColumns = result.fields.flatMap((f, i) => (f.dataTypeID === CHAR_OID ? [i] : []));
      if (charColumns.length === 0) return result;
      const fields = result.fields.map((f) => (f.dataTypeID === CHAR_OID ? { ...f, dataTypeID: TEXT_OID } : f));
      return { ...result, fields };
    };
    const out = await queryRaw.call(Object.create(this, { performIO: { value: performIO } }), query);
    for (const i of charColumns) out.columnTypes[i] = ColumnTypeEnum.Character;
    return out;
  };
  if (queryable.startTransaction) {
    const startTransaction = queryable.startTransaction;
    queryable.startTransaction = async function (...args) {
      return patchQueryable(await startTransaction.apply(this, args));
    };
  }
  if (queryable.executeScript) {
    queryable.executeScript = async function (script) {
      try {
        await this.client.query(script);
      } catch (error) {
        this.onError(error);
      }
    };
  }
  return queryable;
}

/**
 * Stands in for a database where none is needed (a diff between Prisma schemas or from empty): the
 * native engine connects lazily, the wasm one probes the server on creation. Answer that probe only.
 */
const offlineAdapterFactory = {
  provider: 'postgres',
  adapterName: '@prisma/adapter-pg',
  async connect() {
    const refuse = async () => {
      throw new Error('No database connection: this operation needs a database');
    };
    return {
      provider: 'postgres',
      adapterName: '@prisma/adapter-pg',
      async queryRaw(query) {
        if (!query.sql.includes('server_version_num')) return refuse();
        const { Boolean: bool, Text, Int32 } = ColumnTypeEnum;
        return {
          columnNames: ['exists', 'version', 'numeric_version'],
          columnTypes: [bool, Text, Int32],
          rows: [[true, 'PostgreSQL 15', 150000]],
        };
      },
      executeRaw: refuse,
      executeScript: refuse,
      startTransaction: refuse,
      dispose: async () => {},
      getConnectionInfo: () => ({ supportsRelationJoins: true }),
    };
  },
  connectToShadowDb() {
    return this.connect();
  },
};

/**
 * A wasm SchemaEngine over `url` (or over no database at all with `offline: true`). `datamodels` are
 * [path, content] pairs of Prisma schema files. Call `close()` when done: it frees the engine and
 * closes its pools (dropping the shadow database if one is still open).
 */
export async function openSchemaEngine({ url, shadowDatabaseUrl, datamodels, offline = false, log = () => {} }) {
  const { SchemaEngine } = await loadSchemaEngineWasm();
  const adapters = offline
    ? { factory: bindMigrationAwareSqlAdapterFactory(offlineAdapterFactory), close: async () => {} }
    : createAdapterFactory({ url, shadowDatabaseUrl });
  try {
    const engine = await SchemaEngine.new({ datamodels }, log, adapters.factory);
    return {
      engine,
      async close() {
        try {
          engine.free();
        } finally {
          await adapters.close(); // also after a panic, when free() throws
        }
      },
    };
  } catch (error) {
    await adapters.close();
    throw error;
  }
}
