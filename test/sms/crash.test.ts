/**
 * An SMS broadcast killed with SIGKILL mid-send (issue 19). Herald runs as `npm start` runs it; the
 * kit's Twilio (in this process) answers each message 20 ms late, so answers are pending when the
 * process is killed after about 30% arrived; then it starts again. SMS has no idempotency key, so
 * Herald promises at most once: no number gets the message twice, a claim the kill cut is recorded
 * SENT/UNCONFIRMED and never sent again, and every other contact gets it once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { useHeraldProcesses } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';
import { startTwilio, type TestTwilio } from '../kit/twilio-server.ts';

const RECIPIENTS = 1_000;
const KILL_AT = 300;

let twilio: TestTwilio;
beforeAll(async () => {
  twilio = await startTwilio();
});
afterAll(async () => {
  await twilio?.close();
});
const heralds = useHeraldProcesses('sms-crash', () => ({
  HERALD_SMS_ALLOWED_HOSTS: '127.0.0.1',
  HERALD_PUSH_CA: twilio.caFile,
  HERALD_PUSH_CONCURRENCY: '16',
  // The lease after which a dead sender's claims are settled is this plus 5 s.
  HERALD_PUSH_TIMEOUT_MS: '2000',
  LOG_LEVEL: 'warn',
}));

const phoneOf = (i: number) => `+48601${String(i).padStart(6, '0')}`;

/** `count` subscribed contacts (sms-N, +48601000N) written straight into the database. */
async function seedContacts(workspaceGlobalId: string, count: number): Promise<void> {
  const workspaceId = Buffer.from(workspaceGlobalId, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: heralds.databaseUrl });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO "Contact" (id, "workspaceId", "externalId", "firstName", phone, "smsStatus", "smsStatusAt", "smsStatusSource", identified, "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, 'sms-' || i, 'Reader ' || i, '+48601' || lpad(i::text, 6, '0'), 'SUBSCRIBED', now(), 'api', true, now()
       FROM generate_series(1, $2::int) i`,
      [workspaceId, count],
    );
  } finally {
    await db.end();
  }
}

describe('an SMS send killed with SIGKILL', () => {
  it('resumes after a restart at most once: nobody gets it twice, a claim the kill cut is recorded UNCONFIRMED and never sent again', async () => {
    const t0 = performance.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let herald = await heralds.start();
    mark('started');
    const { secretKey, workspace } = await createWorkspace(herald, 'SMS crash');
    let secret = httpClient(herald.graphqlUrl, secretKey);
    const settings = await secret(
      (await import('./kit.ts')).SmsSettingsUpdate,
      { input: { sms: { accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+15017122661', baseUrl: twilio.origin } } } as never,
    );
    expect(dataOf(settings).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
    await seedContacts(workspace.id, RECIPIENTS);
    const id = await createCampaign(secret, { name: 'Crash texts', kind: 'BROADCAST', channel: 'SMS', sms: { body: 'Hi {{ contact.firstName }}, your code is {{ contact.externalId }}' } });
    twilio.delay(20);
    mark('seeded');
    const sent = dataOf(await secret(SendNow, { id })).sendCampaignNow;
    expect(sent.__typename, JSON.stringify(sent)).toBe('MutationSendCampaignNowSuccess');
    await twilio.waitFor(() => twilio.counts().accepted >= KILL_AT, 30_000).catch(async (error: Error) => {
      const state = dataOf(await secret((await import('./kit.ts')).SmsCampaign, { id })).campaign;
      throw new Error(`${error.message} (${timeline.join(', ')}; kit ${JSON.stringify(twilio.counts())}; ${JSON.stringify(state?.stats)} ${JSON.stringify(state?.messages.edges.slice(0, 2))})\nHerald said:\n${herald.output()}`);
    });
    mark('kill');
    await herald.stop('SIGKILL');
    const atKill = twilio.counts().accepted;
    expect(atKill).toBeLessThan(RECIPIENTS);

    herald = await heralds.start();
    mark('restarted');
    secret = httpClient(herald.graphqlUrl, secretKey);
    const campaign = await waitForStatus(secret, id, 'SENT', 120_000).catch((error: Error) => {
      throw new Error(`${error.message} (${timeline.join(', ')}; ${twilio.counts().accepted} arrived)`);
    });
    mark('sent');
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });

    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const { rows: ledger } = await db
      .query<{ externalId: string; phone: string; status: string; reason: string; attempts: number }>(
        `SELECT c."externalId", c.phone, m.status, m.reason, m.attempts FROM "Message" m JOIN "Contact" c ON c.id = m."contactId" WHERE m."campaignId" = $1::uuid`,
        [Buffer.from(id, 'base64').toString().split(':')[1]],
      )
      .finally(() => db.end());
    expect(ledger).toHaveLength(RECIPIENTS);

    // Nobody got it twice.
    const received = new Map<string, number>();
    for (const message of twilio.messages()) received.set(message.to, (received.get(message.to) ?? 0) + 1);
    expect([...received].filter(([, times]) => times > 1)).toEqual([]);
    // Claims the kill cut: recorded SENT/UNCONFIRMED, sent once at most (their request may have left), never again.
    const unconfirmed = ledger.filter((row) => row.reason === 'UNCONFIRMED');
    expect(unconfirmed.length, 'the kill cut no claim').toBeGreaterThan(0);
    for (const row of unconfirmed) expect(row).toMatchObject({ status: 'SENT', attempts: 1 });
    // Everyone else got it exactly once, as the body says.
    const confirmed = ledger.filter((row) => row.reason !== 'UNCONFIRMED');
    for (const row of confirmed) {
      expect(row, row.externalId).toMatchObject({ status: 'SENT', reason: 'ACCEPTED' });
      expect(received.get(row.phone), row.externalId).toBe(1);
    }
    const bodies = new Map(twilio.messages().map((message) => [message.to, message.body]));
    for (let i = 1; i <= RECIPIENTS; i++) if (bodies.has(phoneOf(i))) expect(bodies.get(phoneOf(i))).toBe(`Hi Reader ${i}, your code is sms-${i}`);
    const unconfirmedArrived = unconfirmed.filter((row) => received.has(row.phone)).length;
    expect(twilio.messages()).toHaveLength(confirmed.length + unconfirmedArrived);
    tally({ check: 'SMS send killed with SIGKILL', trials: 1, faults: 1, inputs: RECIPIENTS, duplicates: 0 });
    console.log(
      `SMS crash test: killed after ${atKill} of ${RECIPIENTS} arrived; ${confirmed.length} confirmed (each received once), ${unconfirmed.length} claims cut by the kill recorded UNCONFIRMED (${unconfirmedArrived} of them had reached the provider), none sent twice; ${timeline.join(', ')}`,
    );
  }, 300_000);
});
