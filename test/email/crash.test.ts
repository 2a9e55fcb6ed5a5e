/**
 * An email broadcast killed with SIGKILL mid-send (issue 18), as test/campaigns/crash.test.ts does
 * for push: Herald runs as `npm start` runs it, the kit's SMTP server (parse mode, in this process)
 * receives, the process is killed after about 30% arrived and started again. Counted at the SMTP
 * server: nobody is lost, and nobody gets the email twice except a claim the kill cut before the
 * server's answer was written — sent again after the lease with the SAME Message-ID (derived from
 * the ledger id, so mail systems and readers see one message) and recorded RESENT_AFTER_CRASH.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, httpClient } from '../kit/client.ts';
import { createWorkspace } from '../kit/flow.ts';
import { useHeraldProcesses } from '../kit/fixture.ts';
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

const RECIPIENTS = 1_000;
const KILL_AT = 300;
const DOMAIN = 'shop.example';

// Untyped: this file needs one mutation, not a codegen run over everyone's documents.
const Settings = parse(`
  mutation EmailCrashSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename ... on Error { message } }
  }
`) as TypedDocumentNode<{ updateWorkspaceSettings: { __typename: string; message?: string } }, { input: unknown }>;

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await smtp?.close();
});
const heralds = useHeraldProcesses('email-crash', () => ({
  HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1',
  HERALD_PUSH_CONCURRENCY: '16',
  // The lease after which a dead sender's claims are settled is this plus 5 s.
  HERALD_PUSH_TIMEOUT_MS: '1000',
  LOG_LEVEL: 'warn',
}));

/** `count` subscribed contacts (crash-N@mail.example) written straight into the database. */
async function seedSubscribers(workspaceGlobalId: string, count: number): Promise<string[]> {
  const workspaceId = Buffer.from(workspaceGlobalId, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: heralds.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ email: string }>(
      `INSERT INTO "Contact" (id, "workspaceId", "externalId", email, "firstName", identified, "emailStatus", "emailStatusAt", "emailStatusSource", "updatedAt")
       SELECT gen_random_uuid(), $1::uuid, 'crash-' || i, 'crash-' || i || '@mail.example', 'Reader ' || i, true, 'SUBSCRIBED', now(), 'api', now()
       FROM generate_series(1, $2::int) i RETURNING email`,
      [workspaceId, count],
    );
    return rows.map((row) => row.email);
  } finally {
    await db.end();
  }
}

describe('an email send killed with SIGKILL', () => {
  it('resumes after a restart: everyone gets the email, and only a claim the kill cut goes again, with the same Message-ID, recorded RESENT_AFTER_CRASH', async () => {
    // When each step was done, printed at the end: where a slow CI run spent its time.
    const t0 = performance.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let herald = await heralds.start();
    mark('started');
    const { secretKey, workspace } = await createWorkspace(herald, 'Email crash');
    let secret = httpClient(herald.graphqlUrl, secretKey);
    const settings = dataOf(await secret(Settings, { input: { email: { fromAddress: `news@${DOMAIN}`, fromName: 'Shop', smtpUrl: smtp.url } } }));
    expect(settings.updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
    const addresses = await seedSubscribers(workspace.id, RECIPIENTS);

    const id = await createCampaign(secret, {
      name: 'Crash news',
      kind: 'BROADCAST',
      channel: 'EMAIL',
      email: {
        subject: 'News for {{ contact.firstName }}',
        mjml: `<mjml><mj-body><mj-section><mj-column>
          <mj-text>Hello {{ contact.firstName }}, <a href="https://shop.example/news?c={{ contact.externalId }}">read the news</a>.</mj-text>
          <mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
        </mj-column></mj-section></mj-body></mjml>`,
      },
    });
    // A mail server that answers DATA after 10 ms keeps the send going for a few seconds.
    smtp.slow(10);
    mark('seeded');
    const sent = dataOf(await secret(SendNow, { id })).sendCampaignNow;
    expect(sent.__typename, JSON.stringify(sent)).toBe('MutationSendCampaignNowSuccess');
    await smtp.waitFor(KILL_AT, 30_000).catch(async (error: Error) => {
      throw new Error(`${error.message}\nHerald said:\n${herald.output()}`);
    });
    mark('kill');
    await herald.stop('SIGKILL');
    const atKill = smtp.count;
    expect(atKill).toBeLessThan(RECIPIENTS);

    herald = await heralds.start();
    mark('restarted');
    secret = httpClient(herald.graphqlUrl, secretKey);
    const campaign = await waitForStatus(secret, id, 'SENT', 45_000);
    mark('sent');
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });

    const db = new pg.Client({ connectionString: heralds.databaseUrl });
    await db.connect();
    const { rows: ledger } = await db
      .query<{ id: string; email: string; status: string; reason: string; attempts: number }>(
        `SELECT m.id, c.email, m.status, m.reason, m.attempts FROM "Message" m JOIN "Contact" c ON c.id = m."contactId"
         WHERE m."campaignId" = $1::uuid`,
        [Buffer.from(id, 'base64').toString().split(':')[1]],
      )
      .finally(() => db.end());
    expect(ledger).toHaveLength(RECIPIENTS);
    const rowOf = new Map(ledger.map((row) => [row.email, row]));

    // Nobody is lost, and nobody got more copies than their row counts attempts.
    const received = addresses.map((address) => ({ address, mails: smtp.to(address) }));
    expect(received.filter(({ mails }) => mails.length === 0).map(({ address }) => address)).toEqual([]);
    expect(received.filter(({ address, mails }) => mails.length > rowOf.get(address)!.attempts).map(({ address }) => address)).toEqual([]);
    // Every email carries its ledger row's Message-ID: a resend is recognisably the same message.
    for (const { address, mails } of received) {
      const row = rowOf.get(address)!;
      expect(row.status).toBe('SENT');
      for (const mail of mails) expect(mail.messageId, address).toBe(`<${row.id}@${DOMAIN}>`);
    }
    // Whoever got it twice is a claim the kill cut, sent again after the lease and recorded so.
    const twice = received.filter(({ mails }) => mails.length === 2);
    for (const { address, mails } of twice) {
      expect(mails[0]!.messageId).toBe(mails[1]!.messageId);
      expect(rowOf.get(address)).toMatchObject({ reason: 'RESENT_AFTER_CRASH' });
      expect(rowOf.get(address)!.attempts).toBeGreaterThanOrEqual(2);
    }
    const resent = ledger.filter((row) => row.reason === 'RESENT_AFTER_CRASH');
    expect(twice.length).toBeLessThanOrEqual(resent.length);
    // The kill cut claims the server had taken (answers pending, or not yet written: every 100 ms),
    // so some contacts did get it twice and the check above compared two Message-IDs.
    expect(twice.length, 'nobody got the email twice: the kill cut no send whose message had arrived').toBeGreaterThan(0);
    // Everyone else was sent once, accepted at the first answer written or resent unseen.
    for (const row of ledger) expect(['ACCEPTED', 'RESENT_AFTER_CRASH']).toContain(row.reason);
    console.log(
      `email crash test: killed after ${atKill} of ${RECIPIENTS} arrived; all ${RECIPIENTS} received, ` +
        `${resent.length} claims cut by the kill sent again, ${twice.length} of those had reached the SMTP server before (same Message-ID); ${timeline.join(', ')}`,
    );
  }, 90_000);
});
