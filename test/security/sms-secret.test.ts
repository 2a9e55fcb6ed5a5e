import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHeraldProcesses } from '../kit/fixture.ts';
import type { HeraldProcess } from '../kit/process.ts';
import { postRaw } from '../kit/client.ts';
import { tally } from '../kit/tally.ts';
import { startTwilio, type TestTwilio } from '../kit/twilio-server.ts';

/**
 * The SMS auth token (issue 19) is a credential: whoever has it sends SMS on the tenant's account
 * and forges the provider's callbacks. It is write-only (not even a secret key reads it back), no
 * SMS setting reaches a publishable key, it is sealed at rest and never logged, even at trace level
 * while Herald sends with it and verifies callbacks with it.
 */

let herald: HeraldProcess;
let twilio: TestTwilio;

const post = (credential: string, query: string, variables?: Record<string, unknown>) => postRaw(herald.graphqlUrl, credential, query, variables);

beforeAll(async () => {
  twilio = await startTwilio();
});
afterAll(async () => {
  await twilio?.close();
});
const heralds = useHeraldProcesses('sms-secret', () => ({ LOG_LEVEL: 'trace', HERALD_SMS_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_CA: twilio.caFile }));
beforeAll(async () => {
  herald = await heralds.start();
});

const SMS_FIELDS = 'accountSid from messagingServiceSid baseUrl maxSegments authTokenConfigured inboundUrl';

describe('the SMS auth token', () => {
  it('is write-only, reaches no publishable key, is sealed at rest, and appears in no log line while it sends and verifies', async () => {
    const created = await post(herald.adminToken, `mutation { createWorkspace(input: { name: "Texts" }) {
      ... on MutationCreateWorkspaceSuccess { data { secretKey publishableKey workspace { id } } } } }`);
    const { secretKey, publishableKey, workspace } = created.body.data!.createWorkspace.data;
    const sms = { accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+15017122661', baseUrl: twilio.origin };
    const saved = await post(secretKey, `mutation($sms: SmsSettingsInput) { updateWorkspaceSettings(input: { sms: $sms }) {
      __typename ... on MutationUpdateWorkspaceSettingsSuccess { data { settings { sms { ${SMS_FIELDS} } } } } } }`, { sms });
    expect(saved.body.data!.updateWorkspaceSettings.data.settings.sms).toMatchObject({ accountSid: twilio.accountSid, authTokenConfigured: true });
    expect(saved.text).not.toContain(twilio.authToken);

    // Every way a publishable key could read or change an SMS setting.
    const attempts = [
      post(publishableKey, `{ viewer { settings { sms { ${SMS_FIELDS} } } } }`),
      post(publishableKey, `query($id: ID!) { node(id: $id) { ... on Workspace { settings { sms { ${SMS_FIELDS} } } } } }`, { id: workspace.id }),
      post(publishableKey, `mutation($sms: SmsSettingsInput) { updateWorkspaceSettings(input: { sms: $sms }) { __typename } }`, { sms: { ...sms, baseUrl: 'https://evil.example' } }),
      post(publishableKey, 'mutation { updateWorkspaceSettings(input: { sms: null }) { __typename } }'),
    ];
    const answers = await Promise.all(attempts);
    for (const answer of answers) {
      expect(answer.text).not.toContain(twilio.authToken);
      expect(answer.text).not.toContain(twilio.accountSid);
      expect(answer.body.errors?.[0]?.extensions?.code, answer.text).toBe('FORBIDDEN');
    }
    const after = await post(secretKey, `{ viewer { settings { sms { ${SMS_FIELDS} } } } }`);
    expect(after.body.data!.viewer.settings.sms).toMatchObject({ baseUrl: twilio.origin, authTokenConfigured: true });
    expect(after.text).not.toContain(twilio.authToken);
    // The admin token sees workspaces, never the token.
    expect((await post(herald.adminToken, `{ workspaces { settings { sms { ${SMS_FIELDS} } } } }`)).text).not.toContain(twilio.authToken);

    // Sends with it, and verifies a callback with it.
    twilio.report(() => ({ status: 'delivered' }));
    await post(secretKey, 'mutation { upsertContact(input: { externalId: "someone", phone: "+48601234567", smsOptIn: true }) { __typename } }');
    const made = await post(secretKey, `mutation($input: CampaignInput!) { createCampaign(input: $input) { ... on MutationCreateCampaignSuccess { data { id } } } }`, {
      input: { name: 'Text', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Hello {{ contact.externalId }}' } },
    });
    await post(secretKey, 'mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: made.body.data!.createCampaign.data.id });
    await twilio.waitFor(() => twilio.callbacks().length === 1, 30_000);
    expect(twilio.callbacks()[0]!.answered).toBe(200);

    // Sealed at rest.
    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const { rows } = await db.query<{ row: string }>('SELECT row_to_json(w)::text AS row FROM "Workspace" w').finally(() => db.end());
    for (const { row } of rows) expect(row).not.toContain(twilio.authToken);

    const logLines = herald.output().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.some((line) => line.includes('workspace sms settings changed'))).toBe(true);
    const basic = Buffer.from(`${twilio.accountSid}:${twilio.authToken}`).toString('base64');
    const leaking = logLines.filter((line) => line.includes(twilio.authToken) || line.includes(basic) || line.includes(basic.slice(0, 40)));
    expect(leaking).toEqual([]);
    tally({ check: 'security: the SMS auth token', attacks: attempts.length, inputs: logLines.length, leaks: 0 });
  });
});
