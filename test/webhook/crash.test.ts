/**
 * A webhook broadcast killed with SIGKILL mid-send (issue 19), as test/email/crash.test.ts does for
 * email: Herald runs as `npm start` runs it, the kit's receiver (in this process) verifies and
 * records every request, the process is killed after about 30% arrived and started again. Counted
 * at the receiver: nobody is lost, and nobody gets it twice except a claim the kill cut before the
 * receiver's answer came back — sent again after the lease with the SAME webhook-id (the ledger id),
 * so a receiver that dedupes on it sees one message, and recorded RESENT_AFTER_CRASH.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { useHeraldProcesses } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';
import { startWebhookReceiver, type TestWebhookReceiver } from '../kit/webhook-receiver.ts';

const RECIPIENTS = 1_000;
const KILL_AT = 300;

const SigningSecret = parse(`query WebhookCrashSecret { viewer { webhookSigningSecret } }`) as TypedDocumentNode<{ viewer: { webhookSigningSecret: string } }, Record<string, never>>;

let receiver: TestWebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
const heralds = useHeraldProcesses('webhook-crash', () => ({
  HERALD_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  HERALD_WEBHOOK_CA: receiver.caFile,
  HERALD_PUSH_CONCURRENCY: '16',
  // The lease after which a dead sender's claims are settled is this plus 5 s.
  HERALD_PUSH_TIMEOUT_MS: '2000',
  LOG_LEVEL: 'warn',
}));

/** `count` contacts (hook-N) written straight into the database. */
async function seedContacts(workspaceGlobalId: string, count: number): Promise<string[]> {
  const workspaceId = Buffer.from(workspaceGlobalId, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: heralds.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ externalId: string }>(
      `INSERT INTO "Contact" (id, "workspaceId", "externalId", "firstName", identified, "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, 'hook-' || i, 'Reader ' || i, true, now()
       FROM generate_series(1, $2::int) i RETURNING "externalId"`,
      [workspaceId, count],
    );
    return rows.map((row) => row.externalId);
  } finally {
    await db.end();
  }
}

describe('a webhook send killed with SIGKILL', () => {
  it('resumes after a restart: every contact’s webhook arrives, and only a claim the kill cut goes again, with the same webhook-id, recorded RESENT_AFTER_CRASH', async () => {
    // When each step was done, printed at the end (and on a timeout): where a slow run spent its time.
    const t0 = performance.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let herald = await heralds.start();
    mark('started');
    const { secretKey, workspace } = await createWorkspace(herald, 'Webhook crash');
    let secret = httpClient(herald.graphqlUrl, secretKey);
    receiver.trust(dataOf(await secret(SigningSecret)).viewer.webhookSigningSecret);
    const contacts = await seedContacts(workspace.id, RECIPIENTS);
    const id = await createCampaign(secret, {
      name: 'Crash hooks',
      kind: 'BROADCAST',
      channel: 'WEBHOOK',
      webhook: { url: receiver.url('/crash'), body: '{"who": "{{ contact.externalId }}", "name": "{{ contact.firstName }}"}' },
    });
    // A receiver that answers after 10 ms keeps the send going for a few seconds, with answers pending.
    receiver.behave({ status: 200, delayMs: 10 });
    mark('seeded');
    const sent = dataOf(await secret(SendNow, { id })).sendCampaignNow;
    expect(sent.__typename, JSON.stringify(sent)).toBe('MutationSendCampaignNowSuccess');
    await receiver.waitFor(() => receiver.counts().accepted >= KILL_AT, 30_000).catch(async (error: Error) => {
      throw new Error(`${error.message} (${timeline.join(', ')})\nHerald said:\n${herald.output()}`);
    });
    mark('kill');
    await herald.stop('SIGKILL');
    const atKill = receiver.counts().accepted;
    expect(atKill).toBeLessThan(RECIPIENTS);

    herald = await heralds.start();
    mark('restarted');
    secret = httpClient(herald.graphqlUrl, secretKey);
    const campaign = await waitForStatus(secret, id, 'SENT', 90_000).catch((error: Error) => {
      throw new Error(`${error.message} (${timeline.join(', ')}; ${receiver.counts().accepted} arrived)`);
    });
    mark('sent');
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });

    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const { rows: ledger } = await db
      .query<{ id: string; externalId: string; status: string; reason: string; attempts: number }>(
        `SELECT m.id::text, c."externalId", m.status, m.reason, m.attempts FROM "Message" m JOIN "Contact" c ON c.id = m."contactId" WHERE m."campaignId" = $1::uuid`,
        [Buffer.from(id, 'base64').toString().split(':')[1]],
      )
      .finally(() => db.end());
    expect(ledger).toHaveLength(RECIPIENTS);
    const rowOf = new Map(ledger.map((row) => [row.externalId, row]));

    // Every request verified (the receiver refuses others); nobody is lost, and nobody got more copies than their row counts attempts.
    expect(receiver.counts().unverified).toBe(0);
    const byWho = new Map<string, ReturnType<TestWebhookReceiver['received']>>();
    for (const delivery of receiver.received()) {
      const who = (delivery.json as { who: string }).who;
      byWho.set(who, [...(byWho.get(who) ?? []), delivery]);
    }
    expect(contacts.filter((who) => !byWho.has(who))).toEqual([]);
    expect(contacts.filter((who) => byWho.get(who)!.length > rowOf.get(who)!.attempts)).toEqual([]);
    // Every request carries its ledger row's id as webhook-id: a repeat is recognisably the same message.
    for (const who of contacts) {
      const row = rowOf.get(who)!;
      expect(row.status).toBe('SENT');
      for (const delivery of byWho.get(who)!) expect(delivery.id, who).toBe(row.id);
    }
    // Whoever got it twice is a claim the kill cut (sent again after the lease, recorded so) or, on a
    // busy machine, a request whose answer came after the timeout (retried): both at least once, same id.
    const twice = contacts.filter((who) => byWho.get(who)!.length === 2);
    for (const who of twice) expect(rowOf.get(who)!.attempts, who).toBeGreaterThanOrEqual(2);
    const resent = ledger.filter((row) => row.reason === 'RESENT_AFTER_CRASH');
    expect(resent.length, 'the kill cut no claim').toBeGreaterThan(0);
    for (const row of ledger) expect(['ACCEPTED', 'RESENT_AFTER_CRASH']).toContain(row.reason);
    tally({ check: 'webhook send killed with SIGKILL', trials: 1, faults: 1, inputs: RECIPIENTS, losses: 0 });
    console.log(`webhook crash test: killed after ${atKill} of ${RECIPIENTS} arrived; all ${RECIPIENTS} received, ${resent.length} claims cut by the kill sent again, ${twice.length} of those had reached the receiver before (same webhook-id); ${timeline.join(', ')}`);
  }, 240_000);
});
