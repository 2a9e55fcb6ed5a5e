/**
 * Workspace email settings (issue 18): who email comes from, the workspace's own SMTP server and
 * DKIM key. The SMTP URL (it carries a password) and the key are write-only, sealed at rest and
 * never logged; a tenant's SMTP host must not be Herald's own network unless the operator says so.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { SmtpHostPolicy } from '../../src/net/smtp-hosts.ts';
import { createSecrets, parseSecretKey, secretKeyId } from '../../src/secrets.ts';
import { emailTransportOf } from '../../src/workspaces/email-settings.ts';
import { sealWorkspaceSecrets } from '../../src/workspaces/secrets.ts';
import type { EmailSettingsUpdateMutationVariables } from '../generated/graphql.ts';
import { graphql } from '../generated/index.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { TEST_SECRET_KEY } from '../kit/secret-key.ts';
import { tally } from '../kit/tally.ts';

const Read = graphql(`
  query EmailSettingsRead {
    viewer { settings { timezone email { fromAddress fromName replyTo doubleOptIn smtpConfigured smtpHost dkim { domain selector } } } }
  }
`);
const Update = graphql(`
  mutation EmailSettingsUpdate($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess {
        data { settings { email { fromAddress fromName replyTo doubleOptIn smtpConfigured smtpHost dkim { domain selector } } } }
      }
      ... on ValidationError { code message fieldErrors { path message } }
    }
  }
`);

const SMTP_PASSWORD = 'pw-7f3c-unique-smtp-secret';
const SMTP_URL = `smtp://herald:${SMTP_PASSWORD}@127.0.0.1:2525`;
const DEFAULT_SMTP_URL = 'smtp://relay:relay-password-9d1e@127.0.0.1:2526';
const pem = (type: 'rsa' | 'ed25519' | 'ec', bits = 2048) =>
  (type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: bits })
    : type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('ed25519')
  ).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const DKIM_KEY = pem('rsa');
/** The part of a PEM key that is secret, without the armour every key shares. */
const keyBody = (key: string) => key.split('\n').slice(1, -2).join('');

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1', HERALD_SMTP_URL: DEFAULT_SMTP_URL }, { push: false });

async function sql<T extends object>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;
type Row = { id: string; emailSettings: Record<string, unknown>; smtpUrl: string | null; dkimPrivateKey: string | null };
const rowOf = async (workspaceId: string) =>
  (await sql<Row>(h.kit.databaseUrl, 'SELECT id::text, "emailSettings", "smtpUrl", "dkimPrivateKey" FROM "Workspace" WHERE id = $1', [workspaceId]))[0]!;
const workspaceOf = (workspaceId: string) => h.kit.herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });

const full = {
  fromAddress: 'news@shop.example',
  fromName: 'Shop News',
  replyTo: 'help@shop.example',
  smtpUrl: SMTP_URL,
  dkim: { domain: 'shop.example', selector: 'herald1', privateKey: DKIM_KEY },
  doubleOptIn: true,
};
const shown = {
  fromAddress: 'news@shop.example',
  fromName: 'Shop News',
  replyTo: 'help@shop.example',
  doubleOptIn: true,
  smtpConfigured: true,
  smtpHost: '127.0.0.1',
  dkim: { domain: 'shop.example', selector: 'herald1' },
};
const empty = { fromAddress: null, fromName: null, replyTo: null, doubleOptIn: false, smtpConfigured: false, smtpHost: null, dkim: null };

describe('updateWorkspaceSettings(email)', () => {
  it('starts empty, saves every field and shows all but the secrets', async () => {
    const { secret } = await h.workspace();
    expect(dataOf(await secret(Read)).viewer.settings.email).toEqual(empty);
    const response = await secret(Update, { input: { email: full } });
    expect(dataOf(response).updateWorkspaceSettings).toEqual({ __typename: 'MutationUpdateWorkspaceSettingsSuccess', data: { settings: { email: shown } } });
    const read = await secret(Read);
    expect(dataOf(read).viewer.settings.email).toEqual(shown);
    // Write-only: neither answer carries the password or the key.
    for (const text of [JSON.stringify(response), JSON.stringify(read)]) {
      expect(text).not.toContain(SMTP_PASSWORD);
      expect(text).not.toContain(keyBody(DKIM_KEY).slice(0, 40));
    }
  });

  it('stores the SMTP URL and the DKIM key sealed, and emailTransportOf opens them for the sender', async () => {
    const { secret, workspace } = await h.workspace();
    await secret(Update, { input: { email: full } });
    const row = await rowOf(uuidOf(workspace.id));
    const { secrets } = h.kit.herald;
    expect(row.smtpUrl).toMatch(new RegExp(`^hs1\\.${secrets.keyId}\\.`));
    expect(row.dkimPrivateKey).toMatch(new RegExp(`^hs1\\.${secrets.keyId}\\.`));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(SMTP_PASSWORD);
    expect(stored).not.toContain('127.0.0.1');
    expect(stored).not.toContain(keyBody(DKIM_KEY).slice(0, 40));
    expect(row.emailSettings).toEqual({ fromAddress: 'news@shop.example', fromName: 'Shop News', replyTo: 'help@shop.example', doubleOptIn: true, dkim: { domain: 'shop.example', selector: 'herald1' } });

    const transport = await emailTransportOf(h.kit.herald, await workspaceOf(row.id));
    expect(transport).toMatchObject({
      smtpUrl: SMTP_URL,
      smtpSource: 'workspace',
      dkim: { domainName: 'shop.example', keySelector: 'herald1' },
      fromAddress: 'news@shop.example',
      fromName: 'Shop News',
      replyTo: 'help@shop.example',
    });
    expect(keyBody(transport.dkim!.privateKey)).toBe(keyBody(DKIM_KEY));
    tally({ check: 'security: workspace email credentials without HERALD_SECRET_KEY', attacks: 2, leaks: 0 });
  });

  it('a restart seals a credential an older Herald left plain, leaves absent ones NULL, and re-seals under a new key', async () => {
    const { secret, workspace } = await h.workspace();
    const id = uuidOf(workspace.id);
    await sql(h.kit.databaseUrl, 'UPDATE "Workspace" SET "smtpUrl" = $2 WHERE id = $1', [id, SMTP_URL]);
    await sealWorkspaceSecrets(h.kit.herald);
    const row = await rowOf(id);
    expect(row.smtpUrl).toMatch(/^hs1\./);
    expect(h.kit.herald.secrets.open(row.smtpUrl!)).toBe(SMTP_URL);
    expect(row.dkimPrivateKey).toBeNull(); // a workspace without DKIM gets no made-up key
    expect(dataOf(await secret(Read)).viewer.settings.email).toMatchObject({ smtpConfigured: true, smtpHost: '127.0.0.1', dkim: null });

    // Rotation: with the old key as a previous one, the credentials move to the new key (and back, for the tests after).
    await secret(Update, { input: { email: { dkim: full.dkim } } });
    const current = parseSecretKey(TEST_SECRET_KEY)!;
    const next = randomBytes(32);
    for (const [key, previous] of [[next, current], [current, next]] as const) {
      const herald = { ...h.kit.herald, secrets: createSecrets(key, [previous]) };
      await sealWorkspaceSecrets(herald);
      const moved = await rowOf(id);
      for (const column of ['smtpUrl', 'dkimPrivateKey'] as const) expect(moved[column], column).toMatch(new RegExp(`^hs1\\.${secretKeyId(key)}\\.`));
      expect(herald.secrets.open(moved.smtpUrl!)).toBe(SMTP_URL);
    }
  });

  it('canonicalises the URL it stores: the host as a connection sees it, the port explicit', async () => {
    const { secret, workspace } = await h.workspace();
    const result = dataOf(await secret(Update, { input: { email: { smtpUrl: 'SMTPS://us%40er:p%3Ass@2130706433' } } })).updateWorkspaceSettings;
    expect(result).toMatchObject({ data: { settings: { email: { smtpHost: '127.0.0.1' } } } });
    const transport = await emailTransportOf(h.kit.herald, await workspaceOf(uuidOf(workspace.id)));
    expect(transport.smtpUrl).toBe('smtps://us%40er:p%3Ass@127.0.0.1:465');
  });

  const bad: [string, Record<string, unknown>, string[]][] = [
    ['a from address that is not one', { fromAddress: 'news at shop' }, ['fromAddress']],
    ['a reply-to with a header break', { replyTo: 'a@shop.example\r\nBcc: all@x.example' }, ['replyTo']],
    ['a from name with a line break', { fromName: 'Shop\r\nBcc: all@x.example' }, ['fromName']],
    ['an http URL', { smtpUrl: 'http://mail.example.com' }, ['smtpUrl']],
    ['a URL without a host', { smtpUrl: 'smtp://' }, ['smtpUrl']],
    ['not a URL', { smtpUrl: 'mail.example.com:587' }, ['smtpUrl']],
    ['a URL with a path', { smtpUrl: 'smtp://mail.example.com/x' }, ['smtpUrl']],
    ['a URL with options', { smtpUrl: 'smtp://mail.example.com?proxy=http://10.0.0.1:3128' }, ['smtpUrl']],
    ['a private address', { smtpUrl: 'smtp://u:pw@10.0.0.1:25' }, ['smtpUrl']],
    ['a private address spelt in hex', { smtpUrl: 'smtp://0x0a000001:25' }, ['smtpUrl']],
    ['the cloud metadata service', { smtpUrl: 'smtp://169.254.169.254' }, ['smtpUrl']],
    ['IPv6 loopback (not allowed here)', { smtpUrl: 'smtp://[::1]:2525' }, ['smtpUrl']],
    ['an IPv4-mapped private address', { smtpUrl: 'smtp://[::ffff:10.0.0.1]:25' }, ['smtpUrl']],
    ['a DKIM domain that is not one', { dkim: { domain: 'shop', selector: 's1', privateKey: DKIM_KEY } }, ['dkim', 'domain']],
    ['a DKIM selector that is not a label', { dkim: { domain: 'shop.example', selector: 'a b', privateKey: DKIM_KEY } }, ['dkim', 'selector']],
    ['text as a key', { dkim: { domain: 'shop.example', selector: 's1', privateKey: 'not a key' } }, ['dkim', 'privateKey']],
    ['a broken PEM', { dkim: { domain: 'shop.example', selector: 's1', privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } }, ['dkim', 'privateKey']],
    ['a public key', { dkim: { domain: 'shop.example', selector: 's1', privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) } }, ['dkim', 'privateKey']],
    ['a 512-bit RSA key', { dkim: { domain: 'shop.example', selector: 's1', privateKey: pem('rsa', 512) } }, ['dkim', 'privateKey']],
    ['an EC key', { dkim: { domain: 'shop.example', selector: 's1', privateKey: pem('ec') } }, ['dkim', 'privateKey']],
    ['an Ed25519 key (the mailer cannot sign with it)', { dkim: { domain: 'shop.example', selector: 's1', privateKey: pem('ed25519') } }, ['dkim', 'privateKey']],
    ['DKIM without a key when none is stored', { dkim: { domain: 'shop.example', selector: 's1' } }, ['dkim', 'privateKey']],
  ];
  it.each(bad)('refuses %s with a ValidationError at its field and changes nothing', async (_name, email, field) => {
    const { secret, workspace } = await h.workspace();
    await secret(Update, { input: { email: { fromAddress: 'before@shop.example' } } });
    const before = await rowOf(uuidOf(workspace.id));
    // Valid fields beside the bad one are not saved either.
    const variables = { input: { timezone: 'Europe/Warsaw', email: { fromName: 'Changed', ...email } } } as EmailSettingsUpdateMutationVariables;
    const response = await secret(Update, variables);
    const result = dataOf(response).updateWorkspaceSettings;
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename !== 'ValidationError') return;
    expect(result.fieldErrors.map((error) => error.path)).toEqual([['input', 'email', ...field]]);
    expect(JSON.stringify(response)).not.toContain('pw@'); // the refusal names the host, never the password
    expect(await rowOf(uuidOf(workspace.id))).toEqual(before);
    expect(dataOf(await secret(Read)).viewer.settings.timezone).toBe('UTC');
  });

  it('allows a loopback SMTP host that HERALD_SMTP_ALLOWED_HOSTS names, by address or by a name that points there', async () => {
    const { secret } = await h.workspace();
    for (const smtpUrl of ['smtp://127.0.0.1:2525', 'smtps://localhost:2465']) {
      const result = dataOf(await secret(Update, { input: { email: { smtpUrl } } })).updateWorkspaceSettings;
      expect(result.__typename, smtpUrl).toBe('MutationUpdateWorkspaceSettingsSuccess');
    }
  });

  it('absent fields stay, null clears one field, smtpUrl: null only the URL, dkim: null only DKIM, email: null everything', async () => {
    const { secret, workspace } = await h.workspace();
    const id = uuidOf(workspace.id);
    await secret(Update, { input: { email: full } });

    // Settings without `email` leave it alone; an email input without a field keeps that field.
    await secret(Update, { input: { timezone: 'Europe/Warsaw' } });
    await secret(Update, { input: { email: { fromName: 'Renamed' } } });
    expect(dataOf(await secret(Read)).viewer.settings.email).toEqual({ ...shown, fromName: 'Renamed' });

    // A DKIM change without a key keeps the stored key.
    const keyBefore = (await rowOf(id)).dkimPrivateKey;
    await secret(Update, { input: { email: { dkim: { domain: 'mail.shop.example', selector: 'herald2' } } } });
    expect((await rowOf(id)).dkimPrivateKey).toBe(keyBefore);
    expect(dataOf(await secret(Read)).viewer.settings.email.dkim).toEqual({ domain: 'mail.shop.example', selector: 'herald2' });

    await secret(Update, { input: { email: { replyTo: null, smtpUrl: null } } });
    expect(dataOf(await secret(Read)).viewer.settings.email).toEqual({ ...shown, fromName: 'Renamed', replyTo: null, smtpConfigured: false, smtpHost: null, dkim: { domain: 'mail.shop.example', selector: 'herald2' } });
    expect((await rowOf(id)).smtpUrl).toBeNull();
    // Without its own server the workspace's email goes through HERALD_SMTP_URL.
    expect(await emailTransportOf(h.kit.herald, await workspaceOf(id))).toMatchObject({ smtpUrl: DEFAULT_SMTP_URL, smtpSource: 'deployment', dkim: { keySelector: 'herald2' } });

    await secret(Update, { input: { email: { dkim: null } } });
    expect((await rowOf(id)).dkimPrivateKey).toBeNull();
    expect(dataOf(await secret(Read)).viewer.settings.email).toMatchObject({ fromAddress: 'news@shop.example', dkim: null });

    await secret(Update, { input: { email: full } });
    await secret(Update, { input: { email: null } });
    expect(dataOf(await secret(Read)).viewer.settings.email).toEqual(empty);
    expect(await rowOf(id)).toEqual({ id, emailSettings: {}, smtpUrl: null, dkimPrivateKey: null });
    expect(dataOf(await secret(Read)).viewer.settings.timezone).toBe('Europe/Warsaw');
  });

  it('emailTransportOf without a workspace server or HERALD_SMTP_URL has no SMTP URL', async () => {
    const { workspace } = await h.workspace();
    const herald = { ...h.kit.herald, config: { ...h.kit.herald.config, HERALD_SMTP_URL: undefined } };
    expect(await emailTransportOf(herald, await workspaceOf(uuidOf(workspace.id)))).toEqual({
      smtpUrl: null,
      smtpSource: null,
      dkim: null,
      fromAddress: null,
      fromName: null,
      replyTo: null,
    });
  });
});

describe('SMTP hosts a tenant may set', () => {
  const none = new SmtpHostPolicy([]);

  it('by default: public hosts, never loopback, private, link-local or mapped addresses, whatever their spelling resolves to', async () => {
    expect(none.hostRefusal('203.0.114.1', 25)).toBeNull();
    expect(none.hostRefusal('mail.example.com', 587)).toBeNull(); // judged by where it points, when connecting
    expect(none.hostRefusal('127.0.0.1', 25)).toBe('address 127.0.0.1 is not allowed (loopback)');
    expect(none.hostRefusal('10.1.2.3', 25)).toBe('address 10.1.2.3 is not allowed (private)');
    expect(none.hostRefusal('169.254.169.254', 25)).toBe('address 169.254.169.254 is not allowed (link-local)');
    expect(none.hostRefusal('::ffff:7f00:1', 25)).toBe('address ::ffff:7f00:1 is not allowed (not global unicast)');
    // `localhost` is a name: refused when it is looked up, at save and on every connection.
    expect(await none.saveRefusal('localhost', 25)).toMatch(/^refused to connect to localhost: address (127\.0\.0\.1|::1) is not allowed/);
  });

  it('with HERALD_SMTP_ALLOWED_HOSTS: the named addresses, networks and hosts (at their port)', async () => {
    const policy = new SmtpHostPolicy(['127.0.0.1', '10.8.0.0/16', 'mail.corp:2525', '*.relay.corp:587']);
    expect(policy.hostRefusal('127.0.0.1', 2525)).toBeNull();
    expect(policy.hostRefusal('10.8.3.4', 25)).toBeNull();
    expect(policy.hostRefusal('10.9.3.4', 25)).toBe('address 10.9.3.4 is not allowed (private)');
    expect(await policy.saveRefusal('localhost', 25)).toBeNull(); // points at 127.0.0.1, which is named
    expect(policy.lookupFor('mail.corp', 2525)).not.toBe(policy.lookupFor('mail.corp', 25)); // a named host resolves as it is only at its port
    expect(policy.lookupFor('a.relay.corp', 587)).toBe(policy.lookupFor('mail.corp', 2525));
  });

  it('HERALD_SMTP_URL and HERALD_SMTP_ALLOWED_HOSTS are checked at start, and a bad SMTP URL is not echoed', () => {
    expect(loadConfig({ HERALD_SMTP_URL: DEFAULT_SMTP_URL, HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1,*.corp:2525' })).toMatchObject({ HERALD_SMTP_URL: DEFAULT_SMTP_URL });
    expect(() => loadConfig({ HERALD_SMTP_ALLOWED_HOSTS: 'not a host!' })).toThrow(ConfigError);
    let message = '';
    try {
      loadConfig({ HERALD_SMTP_URL: 'http://user:hunter2-secret@mail.example.com' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: HERALD_SMTP_URL=\(not shown\)/);
    expect(message).not.toContain('hunter2-secret');
  });
});

describe('logs at trace level', () => {
  let herald: HeraldProcess;
  let databaseUrl: string;
  let dataDir: string;
  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'herald-email-logs-'));
    herald = await spawnHerald({ DATABASE_URL: databaseUrl, HERALD_DATA_DIR: dataDir, LOG_LEVEL: 'trace', HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1' });
  });
  afterAll(async () => {
    await herald?.stop();
    if (databaseUrl) await dropDatabase(databaseUrl);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('hold neither the SMTP password nor the DKIM key, saved, read, refused or cleared', async () => {
    const admin = httpClient(herald.graphqlUrl, herald.adminToken);
    const created = await admin(
      graphql(`mutation EmailLogsWorkspace { createWorkspace(input: { name: "Logged" }) { ... on MutationCreateWorkspaceSuccess { data { secretKey } } } }`),
    );
    const createdWorkspace = dataOf(created).createWorkspace;
    if (!('data' in createdWorkspace)) throw new Error('no workspace');
    const secret = httpClient(herald.graphqlUrl, createdWorkspace.data.secretKey);
    expect(dataOf(await secret(Update, { input: { email: full } })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
    await secret(Read);
    // Refused: a private host with the same password, a bad key beside a good URL.
    await secret(Update, { input: { email: { smtpUrl: `smtp://herald:${SMTP_PASSWORD}@10.0.0.1:25` } } });
    await secret(Update, { input: { email: { smtpUrl: SMTP_URL, dkim: { domain: 'shop', selector: 's1', privateKey: DKIM_KEY } } } });
    await secret(Update, { input: { email: null } });

    const logLines = herald.output().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.some((line) => line.includes('workspace email settings changed'))).toBe(true);
    const leaking = logLines.filter((line) => line.includes(SMTP_PASSWORD) || line.includes(keyBody(DKIM_KEY).slice(0, 40)) || line.includes(keyBody(DKIM_KEY).slice(-40)));
    expect(leaking).toEqual([]);
    tally({ check: 'logs at trace level hold no SMTP password or DKIM key', trials: 1, inputs: logLines.length, leaks: 0 });
  });
});
