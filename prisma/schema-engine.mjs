#!/usr/bin/env node
// Stand-in for Prisma's native schema-engine binary, which the CLI downloads on first use (impossible
// offline). prisma/prisma.mjs points PRISMA_SCHEMA_ENGINE_BINARY here. The CLI runs it three ways:
//   schema-engine --version
//   schema-engine --datasource '{"url":…}' cli can-connect-to-database | create-database | drop-database
//   schema-engine [--datamodels <schema file>]… [--datasource '{"url":…,"shadowDatabaseUrl":…}']
//     then JSON-RPC 2.0, one message per line: requests on stdin, responses on stdout, logs on stderr.
// RPCs are forwarded to the wasm schema engine (prisma/wasm-engine.mjs), connected through adapter-pg.
import { readFile } from 'node:fs/promises';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { lastPanic, loadSchemaEngineWasm, openSchemaEngine, pgConfigFromUrl, runSql } from './wasm-engine.mjs';

const { values: args, positionals } = parseArgs({
  strict: false,
  allowPositionals: true,
  options: {
    datamodels: { type: 'string', multiple: true },
    datasource: { type: 'string' },
    version: { type: 'boolean', short: 'V' },
  },
});
const datasource = args.datasource ? JSON.parse(args.datasource) : {};

if (args.version) {
  const { version } = await loadSchemaEngineWasm();
  console.log(`schema-engine-cli ${version()} (@prisma/schema-engine-wasm)`);
} else if (positionals[0] === 'cli') {
  await runCliCommand(positionals[1]);
} else {
  serveJsonRpc();
}

// ---- `cli <command>`: database-level commands, done with plain node-postgres ----

async function runCliCommand(command) {
  const config = pgConfigFromUrl(requireUrl());
  try {
    if (command === 'can-connect-to-database') await runSql(config, 'SELECT 1');
    else if (command === 'create-database') await createOrDropDatabase('CREATE', config);
    else if (command === 'drop-database') await createOrDropDatabase('DROP', config);
    else throw new Error(`Unknown command: cli ${command}`);
    console.log(`${command}: ok`);
  } catch (error) {
    // The CLI drops the first stderr line, then looks for this JSON error log with a Prisma error code.
    process.stderr.write('schema-engine (wasm) failed\n');
    const fields = { message: userFacingMessage(error, config), error_code: userFacingCode(error) };
    process.stderr.write(`${JSON.stringify({ level: 'ERROR', target: 'schema_engine::logger', fields })}\n`);
    process.exitCode = 1;
  }
}

// Run from the server's maintenance database, as the native engine does.
function createOrDropDatabase(verb, config) {
  const maintenance = { ...config, database: config.database === 'postgres' ? 'template1' : 'postgres' };
  return runSql(maintenance, `${verb} DATABASE "${config.database.replaceAll('"', '""')}"`);
}

function requireUrl() {
  if (!datasource.url) throw new Error('schema-engine.mjs: --datasource with a "url" is required');
  return datasource.url;
}

// Prisma's error codes for connection failures, so the CLI reacts as with the native engine
// (e.g. P1003 makes `migrate dev` create the database).
function userFacingCode(error) {
  return { '3D000': 'P1003', '28P01': 'P1000', 28000: 'P1000', '42P04': 'P1009', ECONNREFUSED: 'P1001', ENOTFOUND: 'P1001', ETIMEDOUT: 'P1001' }[error.code];
}

function userFacingMessage(error, { host, port, database, user }) {
  switch (userFacingCode(error)) {
    case 'P1003': return `Database \`${database}\` does not exist on the database server at \`${host}:${port}\`.`;
    case 'P1000': return `Authentication failed against database server at \`${host}\`, the provided database credentials for \`${user}\` are not valid.`;
    case 'P1001': return `Can't reach database server at \`${host}:${port}\``;
    case 'P1009': return `Database \`${database}\` already exists on the database server at \`${host}:${port}\``;
    default: return error.message;
  }
}

// ---- JSON-RPC server ----

function serveJsonRpc() {
  let enginePromise; // opened on the first RPC that needs it: `prisma generate` never connects
  let queue = Promise.resolve(); // one request at a time, like the native engine's RPC loop
  let nextPrintId = 1;
  const pendingPrints = new Map();

  const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
  const log = (line) => process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);

  const engine = () => {
    enginePromise ??= (async () => {
      // No schema files (e.g. `migrate diff`) must be `undefined`: an empty list panics the engine.
      const datamodels = args.datamodels
        ? await Promise.all(args.datamodels.map(async (file) => [file, await readFile(file, 'utf8')]))
        : undefined;
      return openSchemaEngine({ ...datasource, url: requireUrl(), datamodels, log });
    })();
    return enginePromise.then((opened) => opened.engine);
  };

  // Diffs between Prisma schemas or from empty need no database (the native engine never connects
  // for them): run those on an offline engine, so they work with no database server at all.
  async function diff(params) {
    const needsDatabase = [params.from, params.to].some((t) => t.tag !== 'empty' && t.tag !== 'schemaDatamodel');
    if (needsDatabase) return (await engine()).diff(params);
    const offline = await openSchemaEngine({ offline: true, datamodels: undefined, log });
    try {
      return await offline.engine.diff(params);
    } finally {
      await offline.close();
    }
  }

  // The native engine prints `migrate diff` output by asking the CLI to (a "print" request).
  const printThroughCli = (content) =>
    new Promise((resolve) => {
      const id = nextPrintId++;
      pendingPrints.set(id, resolve);
      send({ jsonrpc: '2.0', id, method: 'print', params: { content } });
    });

  async function handle(method, params) {
    switch (method) {
      case 'getDatabaseVersion':
        return (await engine()).version(params);
      case 'createDatabase': {
        const config = pgConfigFromUrl(requireUrl());
        await createOrDropDatabase('CREATE', config);
        return { databaseName: config.database };
      }
      case 'diff': {
        const result = await diff(params);
        if (result.stdout !== null) await printThroughCli(result.stdout);
        return { ...result, stdout: null };
      }
      case 'evaluateDataLoss':
      case 'createMigration': {
        // The wasm engine computes the migrations' schema right only on diagnoseMigrationHistory's
        // drift-check path; these two would fail on their own ("PostgreSQL shadow DB must be provided
        // through an external factory"). That path caches it per migrations list, and they reuse it.
        // It runs when the database is up to date with the list, as `migrate dev` makes it first.
        const target = await engine();
        const { migrationsList, filters } = params;
        await target.diagnoseMigrationHistory({ migrationsList, filters, optInToShadowDatabase: true }).catch(() => {});
        return target[method](params);
      }
      case 'debugPanic': // the CLI's FORCE_PANIC_SCHEMA_ENGINE=1 test hook; needs no database
        return (await openSchemaEngine({ offline: true })).engine.debugPanic();
      default: {
        const target = await engine();
        if (typeof target[method] !== 'function') {
          throw new Error(`The wasm schema engine (prisma/schema-engine.mjs) does not support "${method}"`);
        }
        return target[method](params ?? {});
      }
    }
  }

  const errorResponse = (id, data) => ({
    jsonrpc: '2.0',
    id,
    error: { code: 4466, message: 'An error happened. Check the data field for details.', data },
  });

  let inFlight; // the request being handled, answered by panic() if the engine panics meanwhile
  async function onRequest({ id, method, params }) {
    inFlight = id;
    try {
      send({ jsonrpc: '2.0', id, result: (await handle(method, params)) ?? {} });
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) return panic(error);
      const data = { is_panic: false, message: String(error?.message ?? error) };
      const code = /^P\d{4}$/.test(error?.code ?? '') ? error.code : userFacingCode(error ?? {});
      if (code) Object.assign(data, { error_code: code, meta: error.meta ?? {} });
      send(errorResponse(id, data));
    } finally {
      inFlight = undefined;
    }
  }

  // A Rust panic traps the wasm instance (`unreachable`), mostly outside any promise chain, and
  // leaves it unusable: answer as the native engine does (is_panic), then exit 101 like it.
  function panic(error) {
    if (inFlight !== undefined) {
      const message = lastPanic() ?? String(error?.stack ?? error);
      send(errorResponse(inFlight, { is_panic: true, message, error: { message } }));
      inFlight = undefined;
    }
    void closeEngine().finally(() => process.exit(101));
  }
  process.on('uncaughtException', panic);

  // Closing the engine's pools also drops a shadow database still open.
  const closeEngine = () => (enginePromise ?? Promise.resolve()).then((opened) => opened?.close(), () => {});

  let closing;
  function shutdown() {
    closing ??= queue.then(closeEngine).finally(() => process.exit(0));
    return closing;
  }

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    if (message.method === undefined) {
      // The CLI's answer to one of our "print" requests.
      pendingPrints.get(message.id)?.();
      pendingPrints.delete(message.id);
      return;
    }
    queue = queue.then(() => onRequest(message));
  });
  // The CLI stops the engine by closing stdin, then kills it straight away: clean up either way.
  lines.on('close', shutdown);
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, shutdown);
}
