import { createECDH, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { parseSecretKey, secretKeyId } from '../../src/secrets.ts';
import { recordMessageEvent } from '../../src/tracking/service.ts';
import { identitySecretOf, rotateIdentitySecret } from '../../src/workspaces/secrets.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase, startTestHerald } from '../kit/herald.ts';
import { startPushService, type TestPushService } from '../kit/push-service.ts';
import { TEST_SECRET_KEY } from '../kit/secret-key.ts';
import { tally } from '../kit/tally.ts';

// Issue 15, finding 11: VAPID private keys were stored in plain text, and the tracking-token key
// was derived from them. Now every workspace secret is sealed under HERALD_SECRET_KEY.

type Row = { id: string; vapidPublicKey: string; vapidPrivateKey: string; trackingSecret: string | null; identitySecret: string | null };

let push: TestPushService;
const databases: string[] = [];

beforeAll(async () => {
  push = await startPushService();
});
afterAll(async () => {
  await push?.close();
  for (const url of databases) await dropDatabase(url);
});

/** A database that outlives one Herald, so a test can restart Herald on it. */
async function database(): Promise<string> {
  const url = await freshDatabase();
  databases.push(url);
  return url;
}

const start = (databaseUrl: string, env: Record<string, string> = {}) =>
  startTestHerald({ DATABASE_URL: databaseUrl, HERALD_PUSH_CA: push.caFile, HERALD_PUSH_ALLOWED_HOSTS: '127.0.0.1', ...env });

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function sql<T extends object>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const rowOf = async (databaseUrl: string, id: string) =>
  (await sql<Row>(databaseUrl, 'SELECT id::text, "vapidPublicKey", "vapidPrivateKey", "trackingSecret", "identitySecret" FROM "Workspace" WHERE id = $1', [id]))[0]!;

/** The public key (uncompressed point, base64url) of a raw P-256 private key, or null if it is not one. */
function publicKeyOf(privateKey: string): string | null {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
    return ecdh.getPublicKey().toString('base64url');
  } catch {
    return null;
  }
}

/** A token as Herald made them before: MAC'd with a key derived from the VAPID private key. */
function vapidDerivedToken(messageId: string, vapidPrivateKey: string): string {
  const id = Buffer.from(messageId.replaceAll('-', ''), 'hex');
  const key = createHmac('sha256', vapidPrivateKey).update('herald/tracking-token').digest();
  return `${id.toString('base64url')}.${createHmac('sha256', key).update(id).digest().subarray(0, 16).toString('base64url')}`;
}

/** Sends a one-off campaign to the workspace's browsers and answers what the push service received. */
async function sendCampaign(secret: ReturnType<typeof httpClient>, browserId: string) {
  const id = await createCampaign(secret, { name: `Sale ${randomBytes(3).toString('hex')}`, kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/' } });
  expect(dataOf(await secret(SendNow, { id })).sendCampaignNow.__typename).toBe('MutationSendCampaignNowSuccess');
  await waitForStatus(secret, id, 'SENT');
  await push.waitFor(() => push.received(browserId).length > 0);
  return push.received(browserId).at(-1)!;
}

describe('secrets at rest', () => {
  it('a workspace row holds no VAPID private key, tracking secret or identity secret in plain text', async () => {
    const databaseUrl = await database();
    const kit = await start(databaseUrl);
    try {
      const created = await createWorkspace(kit);
      const row = await rowOf(databaseUrl, uuidOf(created.workspace.id));
      // Before: the column was the private key of vapidPublicKey, readable by anyone with the database.
      expect(publicKeyOf(row.vapidPrivateKey)).not.toBe(row.vapidPublicKey);

      const { secrets } = kit.herald;
      const plain = {
        vapidPrivateKey: secrets.open(row.vapidPrivateKey),
        trackingSecret: secrets.open(row.trackingSecret!),
        identitySecret: secrets.open(row.identitySecret!),
      };
      expect(publicKeyOf(plain.vapidPrivateKey)).toBe(row.vapidPublicKey);
      expect(plain.identitySecret).toBe(await identitySecretOf(kit.herald, row.id));
      expect(plain.trackingSecret).not.toBe(plain.vapidPrivateKey);
      const stored = JSON.stringify(row);
      for (const [column, value] of Object.entries(plain)) {
        expect(value.length, column).toBeGreaterThanOrEqual(32);
        expect(row[column as keyof Row], column).toMatch(new RegExp(`^hs1\\.${secrets.keyId}\\.`));
        expect(stored, column).not.toContain(value);
      }
      // Someone who reads the row goes after each secret in it.
      tally({ check: 'security: workspace secrets without HERALD_SECRET_KEY', attacks: Object.keys(plain).length, leaks: 0 });
    } finally {
      await kit.stop();
    }
  });

  it('a workspace stored the old way is sealed at the next start, still sends, and its tracking tokens verify', async () => {
    const databaseUrl = await database();
    const first = await start(databaseUrl);
    const created = await createWorkspace(first);
    const workspaceId = uuidOf(created.workspace.id);
    const { browser } = await subscribeBrowser(created.publishable, push, { anonymousId: 'anon-old-way' });
    await first.stop();

    // What an older Herald left behind: the VAPID key in plain text, no tracking or identity secret.
    const vapid = webpush.generateVAPIDKeys();
    await sql(databaseUrl, 'UPDATE "Workspace" SET "vapidPublicKey" = $2, "vapidPrivateKey" = $3, "trackingSecret" = NULL, "identitySecret" = NULL WHERE id = $1', [
      workspaceId,
      vapid.publicKey,
      vapid.privateKey,
    ]);

    const kit = await start(databaseUrl);
    try {
      const row = await rowOf(databaseUrl, workspaceId);
      expect(row.vapidPrivateKey).toMatch(/^hs1\./);
      expect(row.vapidPrivateKey).not.toContain(vapid.privateKey);
      expect(kit.herald.secrets.open(row.vapidPrivateKey)).toBe(vapid.privateKey);
      expect(row.trackingSecret).toMatch(/^hs1\./);
      expect(row.identitySecret).toMatch(/^hs1\./);

      // The push service verifies the VAPID JWT: signed with the key that was plain, now sealed.
      const received = await sendCampaign(httpClient(kit.graphqlUrl, created.secretKey), browser.id);
      expect(received.vapid.publicKey).toBe(vapid.publicKey);
      const { token } = received.json as { token: string };
      const message = await recordMessageEvent(kit.herald, { token, type: 'CLICKED' });
      expect(message.clickedAt).toBeInstanceOf(Date);

      // Tracking tokens no longer depend on the VAPID key: one MAC'd the old way is refused.
      await expect(recordMessageEvent(kit.herald, { token: vapidDerivedToken(message.id, vapid.privateKey), type: 'CLOSED' })).rejects.toMatchObject({
        code: 'message/not_found',
      });
      expect((await kit.herald.prisma.message.findUniqueOrThrow({ where: { id: message.id } })).closedAt).toBeNull();
      // The one token forged from the formerly plain VAPID key.
      tally({ check: 'security: workspace secrets without HERALD_SECRET_KEY', attacks: 1, leaks: 0 });
    } finally {
      await kit.stop();
    }
  }, 60_000);

  it('two Heralds starting together on old rows agree on one sealed value per secret', async () => {
    const databaseUrl = await database();
    const first = await start(databaseUrl);
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) ids.push(uuidOf((await createWorkspace(first, `Shop ${index}`)).workspace.id));
    await first.stop();
    await sql(databaseUrl, 'UPDATE "Workspace" SET "trackingSecret" = NULL, "identitySecret" = NULL');

    const [a, b] = await Promise.all([start(databaseUrl), start(databaseUrl)]);
    try {
      for (const id of ids) {
        const row = await rowOf(databaseUrl, id);
        // Both processes answer the stored secret, whichever of them filled it.
        expect(await identitySecretOf(a.herald, id)).toBe(await identitySecretOf(b.herald, id));
        expect(a.herald.secrets.open(row.trackingSecret!)).toBe(b.herald.secrets.open(row.trackingSecret!));
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);

  it('a wrong or missing HERALD_SECRET_KEY stops start with an error that says what to do, and changes nothing', async () => {
    const databaseUrl = await database();
    const first = await start(databaseUrl);
    const workspaceId = uuidOf((await createWorkspace(first)).workspace.id);
    await first.stop();
    const before = await rowOf(databaseUrl, workspaceId);

    const wrong = randomBytes(32).toString('hex');
    await expect(start(databaseUrl, { HERALD_SECRET_KEY: wrong })).rejects.toThrow(
      new RegExp(`sealed under key id ${secretKeyId(parseSecretKey(TEST_SECRET_KEY)!)}.*HERALD_SECRET_KEY.*HERALD_SECRET_KEY_PREVIOUS`),
    );
    // Unset: a key is generated into the (new) data folder, and it is not the one that sealed the rows.
    await expect(start(databaseUrl, { HERALD_SECRET_KEY: '' })).rejects.toThrow(/secret-key file in the data folder/);
    expect(await rowOf(databaseUrl, workspaceId)).toEqual(before);
    // Two starts on the sealed rows without their key: a wrong one, and none.
    tally({ check: 'security: workspace secrets without HERALD_SECRET_KEY', attacks: 2, leaks: 0 });
  }, 60_000);

  it('rotation: with the old key in HERALD_SECRET_KEY_PREVIOUS every value is re-sealed under the new key at start', async () => {
    const databaseUrl = await database();
    const first = await start(databaseUrl);
    const workspaceId = uuidOf((await createWorkspace(first)).workspace.id);
    const identitySecret = await identitySecretOf(first.herald, workspaceId);
    const vapidPrivateKey = first.herald.secrets.open((await rowOf(databaseUrl, workspaceId)).vapidPrivateKey);
    await first.stop();

    const next = randomBytes(32).toString('base64');
    const rotated = await start(databaseUrl, { HERALD_SECRET_KEY: next, HERALD_SECRET_KEY_PREVIOUS: TEST_SECRET_KEY });
    const row = await rowOf(databaseUrl, workspaceId);
    await rotated.stop();
    const nextId = secretKeyId(parseSecretKey(next)!);
    for (const column of ['vapidPrivateKey', 'trackingSecret', 'identitySecret'] as const) expect(row[column], column).toMatch(new RegExp(`^hs1\\.${nextId}\\.`));

    // The new key alone now opens everything; the old one no longer does.
    const after = await start(databaseUrl, { HERALD_SECRET_KEY: next });
    try {
      expect(await identitySecretOf(after.herald, workspaceId)).toBe(identitySecret);
      expect(after.herald.secrets.open(row.vapidPrivateKey)).toBe(vapidPrivateKey);
    } finally {
      await after.stop();
    }
    await expect(start(databaseUrl, { HERALD_SECRET_KEY: TEST_SECRET_KEY })).rejects.toThrow(/HERALD_SECRET_KEY/);
    // The one start with the retired key alone.
    tally({ check: 'security: workspace secrets without HERALD_SECRET_KEY', attacks: 1, leaks: 0 });
  }, 60_000);

  it('unset, the key is generated into the data folder (0600) and used again at the next start', async () => {
    const databaseUrl = await database();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-secret-key-'));
    try {
      const first = await start(databaseUrl, { HERALD_SECRET_KEY: '', HERALD_DATA_DIR: dataDir });
      const workspaceId = uuidOf((await createWorkspace(first)).workspace.id);
      const identitySecret = await identitySecretOf(first.herald, workspaceId);
      await first.stop();

      const file = path.join(dataDir, 'secret-key');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const key = parseSecretKey(await readFile(file, 'utf8'));
      expect(key).toHaveLength(32);
      const second = await start(databaseUrl, { HERALD_SECRET_KEY: '', HERALD_DATA_DIR: dataDir });
      try {
        expect(second.herald.secrets.keyId).toBe(secretKeyId(key!));
        expect(await identitySecretOf(second.herald, workspaceId)).toBe(identitySecret);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('rotateIdentitySecret replaces the secret, says so on the event bus, and every Herald sees it at once', async () => {
    const databaseUrl = await database();
    const [a, b] = [await start(databaseUrl), await start(databaseUrl)];
    try {
      const workspaceId = uuidOf((await createWorkspace(a)).workspace.id);
      const before = await identitySecretOf(b.herald, workspaceId); // cached in b
      const changes = a.herald.events.subscribe('workspace:changed', workspaceId)[Symbol.asyncIterator]();
      const next = changes.next();

      const workspace = await rotateIdentitySecret(a.herald, workspaceId);
      expect(await next).toEqual({ done: false, value: { reason: 'identity_secret_rotated' } });
      await changes.return?.();
      const after = await identitySecretOf(b.herald, workspaceId);
      expect(after).not.toBe(before);
      expect(after).toMatch(/^hid_[A-Za-z0-9_-]{43}$/);
      expect(a.herald.secrets.open(workspace.identitySecret!)).toBe(after);
      await expect(rotateIdentitySecret(a.herald, '00000000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'workspace/not_found' });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);

  it('a malformed HERALD_SECRET_KEY is refused by name and never echoed', () => {
    const key = 'not-a-key-but-still-a-secret';
    expect(() => loadConfig({ HERALD_SECRET_KEY: key })).toThrow(/^Invalid configuration: HERALD_SECRET_KEY=\(not shown\): must be 32 bytes/);
    expect(() => loadConfig({ HERALD_SECRET_KEY: key })).not.toThrow(new RegExp(key));
    expect(() => loadConfig({ HERALD_SECRET_KEY_PREVIOUS: `${TEST_SECRET_KEY},${key}` })).toThrow(/HERALD_SECRET_KEY_PREVIOUS=\(not shown\)/);
    expect(loadConfig({ HERALD_SECRET_KEY: randomBytes(32).toString('hex') }).HERALD_SECRET_KEY).toHaveLength(64);
  });

  it('never logs a secret-bearing field, at the top of a log line or one level down', () => {
    const names = [
      'authorization', 'secretKey', 'publishableKey', 'key', 'token', 'vapidPrivateKey', 'trackingSecret', 'identitySecret',
      'webhookSigningSecret', 'webhookSigningSecretPrevious', 'password', 'smtpUrl', 'privateKey', 'dkimPrivateKey',
      'authToken', 'smsAuthToken', 'apnsPrivateKey', 'fcmServiceAccount', 'HERALD_SECRET_KEY', 'HERALD_SMTP_URL',
    ];
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const canary = (name: string) => `canary-${name}-5e1f`;
    for (const name of names) {
      log.info({ [name]: canary(name) }, 'top');
      log.info({ account: { [name]: canary(name) } }, 'nested');
    }
    expect(lines).toHaveLength(names.length * 2);
    const leaked = names.filter((name) => lines.some((line) => line.includes(canary(name))));
    expect(leaked).toEqual([]);
    expect(lines.every((line) => line.includes('[redacted]'))).toBe(true);
  });
});
