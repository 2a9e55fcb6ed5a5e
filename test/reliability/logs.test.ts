/**
 * Logs never contain keys or tokens (issue #9): a real Herald process logging at `trace` goes
 * through a workspace's life — keys made, a browser registered, a campaign sent, beacons with real
 * and forged tokens, bad keys, failing requests — and no log line holds any secret it handled.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { httpClient } from '../kit/client.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { tally } from '../kit/tally.ts';

let push: TestPushService;
let herald: HeraldProcess;
let databaseUrl: string;
let dataDir: string;

beforeAll(async () => {
  push = await startPushService();
  databaseUrl = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'herald-logs-'));
  herald = await spawnHerald({ DATABASE_URL: databaseUrl, HERALD_DATA_DIR: dataDir, HERALD_PUSH_CA: push.caFile, LOG_LEVEL: 'trace' });
});
afterAll(async () => {
  await herald?.stop();
  await push?.close();
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function call(key: string, query: string, variables?: unknown): Promise<any> {
  const response = await fetch(`${herald.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

describe('logs at trace level', () => {
  it('hold no API key, admin token, tracking token or browser key', async () => {
    const created = await call(
      herald.adminToken,
      'mutation { createWorkspace(input: { name: "Logged" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey publishableKey } } } }',
    );
    const { secretKey, publishableKey } = created.data.createWorkspace.data;
    const extra = await call(secretKey, 'mutation { createApiKey(input: { kind: SECRET }) { ... on MutationCreateApiKeySuccess { data { key } } } }');
    const extraKey: string = extra.data.createApiKey.data.key;

    const publishable = httpClient(`${herald.url}/graphql`, publishableKey);
    const secret = httpClient(`${herald.url}/graphql`, secretKey);
    const { browser } = await subscribeBrowser(publishable, push, { anonymousId: 'visitor-1' });
    const id = await createCampaign(secret, { name: 'Logged', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const { token } = push.received(browser.id)[0]!.json as { token: string };

    // Beacons, good and forged; requests with wrong keys; a failing query; a revoked key.
    const track = (body: string) => fetch(`${herald.url}/track`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    await track(JSON.stringify({ token, type: 'CLICKED' }));
    await track(JSON.stringify({ token: `${token.slice(0, -4)}AAAA`, type: 'CLICKED' }));
    await track('{ not json');
    await call(`${secretKey}x`, '{ viewer { id } }');
    await call(secretKey, '{ nope }');
    await call(secretKey, `mutation { revokeApiKey(input: { id: "${Buffer.from('ApiKey:00000000-0000-7000-8000-000000000000').toString('base64')}" }) { __typename } }`);
    await call(extraKey, '{ viewer { id } }');

    const logLines = herald.output().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(10); // trace logging really ran
    const secrets = { adminToken: herald.adminToken, secretKey, publishableKey, extraKey, token, p256dh: browser.json.keys.p256dh, auth: browser.json.keys.auth };
    for (const [name, value] of Object.entries(secrets)) {
      const leaking = logLines.filter((line) => line.includes(value));
      expect(leaking, `${name} appears in the logs`).toEqual([]);
    }
    tally({ check: 'logs at trace level hold no key or token', trials: 1, inputs: logLines.length, leaks: 0 });
  });
});
