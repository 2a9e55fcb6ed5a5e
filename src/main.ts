import { inspect } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { startHerald } from './herald.ts';
import { createLogger } from './logger.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const log = createLogger(config.LOG_LEVEL);
const running = await startHerald(config, log).catch((error: unknown) => {
  // A library may reject with anything, even undefined: the line must still say what happened.
  const err = error instanceof Error ? error : new Error(`start failed with a non-Error value: ${inspect(error)}`);
  log.fatal({ err }, `Herald could not start: ${err.message}`);
  process.exit(1);
});

const token = running.adminTokenGenerated ? running.herald.adminToken : '<your HERALD_ADMIN_TOKEN>';
// Printed for the person who just ran `npm start`, outside the JSON log on purpose.
console.log(`
  Dashboard: ${running.url}/app
  Herald is running at ${running.url}/graphql
  Admin token${running.adminTokenGenerated ? ` (kept in ${config.HERALD_DATA_DIR}/admin-token)` : ''}: ${token}

  Create your first workspace in the dashboard with the admin token, or with curl:
  curl -s ${running.url}/graphql -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${token}' \\
    -d '{"query":"mutation { createWorkspace(input: { name: \\"My site\\" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey publishableKey workspace { id vapidPublicKey } } } ... on Error { code message } } }"}'
`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
