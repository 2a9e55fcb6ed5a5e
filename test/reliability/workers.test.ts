/**
 * Several workers share one send (issue #17): one `api` and three `worker` processes on one
 * database, with Redis carrying the `delivery:due` signal to every worker, send one broadcast to
 * the test push service. Each worker claims disjoint batches, so each sends a share (read from
 * its own `herald_messages_sent_total` at /metrics) and none sends most of it. Then
 * a second broadcast with one worker SIGKILLed mid-send: the others finish it, nobody is lost,
 * and every push the service saw twice is a resend the ledger recorded (RESENT_AFTER_CRASH) of the
 * same ledger id, which the service worker shows once. On a busy machine a push answered after the
 * push timeout is retried too (at-least-once on the wire): the ledger records that attempt and its
 * error, and the service worker shows it once; the table counts those apart.
 * CI scale by default; the figure: WORKERS_RECIPIENTS=50000.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenMessageId } from '../../src/delivery/tokens.ts';
import { createCampaign, seedBrowsers, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { createWorkspace } from '../kit/flow.ts';
import { dropDatabase, freshDatabase } from '../kit/herald.ts';
import { type HeraldProcess, spawnHerald } from '../kit/process.ts';
import { startPushService, type ReceivedPush, type TestPushService } from '../kit/push-service.ts';
import { REDIS_URL, redisAvailable } from '../kit/redis.ts';
import { tally } from '../kit/tally.ts';

const RECIPIENTS = Number(process.env.WORKERS_RECIPIENTS ?? 3_000);
const WORKERS = 3;
/** No worker may send this share or more of a broadcast: claims must not serialise on one process. */
const MAX_SHARE = 0.8;
/** Generous: on a busy 2-core machine (four Heralds, PostgreSQL, the decrypting push service) a send ran at ~100 msg/s. */
const SEND_TIMEOUT_MS = 60_000 + RECIPIENTS * 10;
/** Given to every process (the banner then shows a placeholder, not the token). */
const ADMIN_TOKEN = 'workers-test-admin-token-0123456789';

const available = await redisAvailable();

let push: TestPushService;
let databaseUrl: string;
let dataDir: string;
let api: HeraldProcess | undefined;
const workers: HeraldProcess[] = [];
const figures: Figures[] = [];

interface Figures {
  phase: string;
  shares: (number | string)[];
  seconds: number;
  /** From sendCampaignNow to the first push at the push service: preparing the audience and waking the workers. */
  firstPush: number;
  /** Browsers that got two pushes: a resend after the kill, or a retry after the push timeout. */
  twice: number;
  retried: number;
  resent: number;
}

const start = (role: 'api' | 'worker') =>
  spawnHerald({
    HERALD_ROLE: role,
    REDIS_URL,
    DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
    HERALD_PUSH_CA: push.caFile,
    HERALD_PUSH_CONCURRENCY: '16',
    // The lease after which a dead worker's claims go again is this plus 5 s. Not 1 s as in the
    // crash suite: four Heralds and the decrypting push service on two cores answer that late.
    HERALD_PUSH_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'warn',
  });

describe.runIf(available)(`one broadcast to ${RECIPIENTS.toLocaleString()} browsers, ${WORKERS} worker processes`, () => {
  beforeAll(async () => {
    push = await startPushService();
    databaseUrl = await freshDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'herald-workers-'));
    api = await start('api'); // migrates the database; the workers then start on it one by one
    for (let index = 0; index < WORKERS; index++) workers.push(await start('worker'));
    // Each push answered after 20 ms: a send lasts long enough to kill a worker in the middle.
    push.behave({ status: 201, delayMs: 20 });
  });
  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await api?.stop();
    await push?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (figures.length) console.log(table(figures));
  });

  it('is sent once to everyone, each worker sending a share', async () => {
    const send = await broadcast('Shared');
    const before = await Promise.all(workers.map(sentBy));
    const began = Date.now();
    await send.go();
    const campaign = await waitForStatus(send.secret, send.id, 'SENT', SEND_TIMEOUT_MS);
    const seconds = (Date.now() - began) / 1000;
    const shares = (await Promise.all(workers.map(sentBy))).map((sent, index) => sent - before[index]!);
    const delivered = await deliveryOf(send);
    figures.push({ phase: 'all running', shares, seconds, ...counted(delivered, began) });

    expectOnScreenOnce(delivered);
    expect(delivered.resent).toBe(0); // nothing was killed
    expect(delivered.twice.length).toBeLessThanOrEqual(delivered.retried); // and only a push answered too late went twice
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });
    expect(shares.reduce((sum, share) => sum + share, 0)).toBe(RECIPIENTS); // each message sent by exactly one worker
    for (const share of shares) expect(share).toBeGreaterThan(0);
    expect(Math.max(...shares) / RECIPIENTS).toBeLessThan(MAX_SHARE);
    tally({ check: `one broadcast shared by ${WORKERS} worker processes`, trials: 1, inputs: RECIPIENTS, duplicates: 0, losses: 0 });
  }, SEND_TIMEOUT_MS + 60_000);

  it('is finished by the others when one worker is SIGKILLed mid-send: none lost, none shown twice', async () => {
    const send = await broadcast('Killed');
    const before = await Promise.all(workers.map(sentBy));
    const base = push.requests();
    const began = Date.now();
    await send.go();
    await push.waitFor(() => push.requests() - base >= RECIPIENTS * 0.3, SEND_TIMEOUT_MS);
    // The busiest worker so far goes: the one most likely to hold claims in flight.
    const atKill = (await Promise.all(workers.map(sentBy))).map((sent, index) => sent - before[index]!);
    const victim = atKill.indexOf(Math.max(...atKill));
    await workers[victim]!.stop('SIGKILL');
    const arrivedAtKill = push.requests() - base;
    expect(arrivedAtKill).toBeLessThan(RECIPIENTS); // the kill landed mid-send

    const campaign = await waitForStatus(send.secret, send.id, 'SENT', SEND_TIMEOUT_MS);
    const seconds = (Date.now() - began) / 1000;
    const shares = await Promise.all(workers.map((worker, index) => (index === victim ? `≥${atKill[index]} killed` : sentBy(worker).then((sent) => sent - before[index]!))));
    const delivered = await deliveryOf(send);
    figures.push({ phase: `worker ${victim + 1} killed after ${arrivedAtKill.toLocaleString()} pushes`, shares, seconds, ...counted(delivered, began) });

    expectOnScreenOnce(delivered);
    expect(campaign.stats).toMatchObject({ targeted: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0 });
    for (const share of shares) if (typeof share === 'number') expect(share).toBeGreaterThan(0); // the survivors carried on
    tally({ check: `SIGKILL of one of ${WORKERS} worker processes mid-send`, trials: 1, faults: 1, inputs: RECIPIENTS, duplicates: 0, losses: 0 });
  }, SEND_TIMEOUT_MS * 2 + 60_000);
});

/** A fresh workspace of RECIPIENTS browsers at the test push service and a broadcast to them, ready to go. */
async function broadcast(name: string) {
  const shop = await createWorkspace({ graphqlUrl: api!.graphqlUrl, adminToken: ADMIN_TOKEN }, name);
  const browsers = await seedBrowsers(databaseUrl, shop.workspace.id, push, RECIPIENTS);
  const id = await createCampaign(shop.secret, { name, kind: 'BROADCAST', content: { title: 'Once', url: 'https://shop.example/' } });
  return { id, browsers, secret: shop.secret, go: () => shop.secret(SendNow, { id }) };
}

/** What a worker says it sent: the sum of its herald_messages_sent_total samples, from its own /metrics. */
async function sentBy(worker: HeraldProcess): Promise<number> {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  // A labelled counter has no samples until its first increment; its TYPE line is there from the start.
  if (!/^# TYPE herald_messages_sent_total counter$/m.test(text)) throw new Error(`the worker at ${worker.url} serves no herald_messages_sent_total`);
  const samples = [...text.matchAll(/^herald_messages_sent_total(?:\{[^}]*\})?\s+(\S+)$/gm)];
  return samples.reduce((sum, [, value]) => sum + Number(value), 0);
}

/**
 * What arrived at the push service, held against the ledger: browsers that got nothing or whose
 * row is not SENT (lost), pushes the ledger does not explain (more than the claims it counted, or
 * a second push whose row records neither RESENT_AFTER_CRASH nor a failed earlier attempt),
 * browsers whose pushes do not all name their one ledger id (the service worker would show them
 * twice), the rows resent after the kill and those retried after an error (a push timeout).
 */
async function deliveryOf(send: Awaited<ReturnType<typeof broadcast>>) {
  const campaignId = Buffer.from(send.id, 'base64').toString().split(':')[1]!;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const { rows } = await db
    .query<{ id: string; endpoint: string; status: string; reason: string | null; attempts: number; error: string | null }>(
      `SELECT m.id::text, s.endpoint, m.status::text, m.reason::text, m.attempts, m.error FROM "Message" m
       JOIN "PushSubscription" s ON s.id = m."subscriptionId" WHERE m."campaignId" = $1`,
      [campaignId],
    )
    .finally(() => db.end());
  const ledger = new Map(rows.map((row) => [row.endpoint, row]));
  // One pass over what arrived: received(id) per browser would scan everything 50,000 times.
  const arrived = new Map<string, ReceivedPush[]>();
  for (const received of push.received()) arrived.set(received.subscriptionId, [...(arrived.get(received.subscriptionId) ?? []), received]);

  const lost: string[] = [];
  const twice: string[] = [];
  const unexplained: string[] = [];
  const shownTwice: string[] = [];
  for (const browser of send.browsers) {
    const row = ledger.get(browser.json.endpoint);
    const pushes = arrived.get(browser.id) ?? [];
    if (!row || row.status !== 'SENT' || pushes.length === 0) lost.push(`${browser.id}: ${JSON.stringify(row)}, ${pushes.length} pushes`);
    if (pushes.length > 1) twice.push(browser.id);
    const recorded = row?.reason === 'RESENT_AFTER_CRASH' || Boolean(row?.error && row.attempts > 1);
    if (row && (pushes.length > row.attempts || (pushes.length > 1 && !recorded))) unexplained.push(`${browser.id}: ${pushes.length} pushes, ${JSON.stringify(row)}`);
    // What the service worker keys on: the ledger id its token carries. One id per browser: shown once.
    const ids = new Set(pushes.map((received) => tokenMessageId((received.json as { token: string }).token)));
    if (ids.size > 1 || (row && pushes.length && !ids.has(row.id))) shownTwice.push(`${browser.id}: ${[...ids].join(', ')} for ${row?.id}`);
  }
  const resent = rows.filter((row) => row.reason === 'RESENT_AFTER_CRASH').length;
  const retried = rows.filter((row) => row.reason !== 'RESENT_AFTER_CRASH' && row.error && row.attempts > 1).length;
  const firstAt = Math.min(...send.browsers.flatMap((browser) => (arrived.get(browser.id) ?? []).map((received) => received.receivedAt)));
  return { rows: rows.length, lost, twice, unexplained, shownTwice, resent, retried, firstAt };
}

const counted = (delivered: Awaited<ReturnType<typeof deliveryOf>>, began: number) => ({
  twice: delivered.twice.length,
  retried: delivered.retried,
  resent: delivered.resent,
  firstPush: (delivered.firstAt - began) / 1000,
});

/** 0 lost, every ledger row SENT, every duplicate a recorded resend, each browser's pushes one ledger id. */
function expectOnScreenOnce(delivered: Awaited<ReturnType<typeof deliveryOf>>): void {
  expect(delivered.rows).toBe(RECIPIENTS);
  expect(delivered.lost.slice(0, 5), `${delivered.lost.length} lost`).toEqual([]);
  expect(delivered.unexplained.slice(0, 5), `${delivered.unexplained.length} pushes the ledger does not explain`).toEqual([]);
  expect(delivered.shownTwice.slice(0, 5), `${delivered.shownTwice.length} would be shown twice`).toEqual([]);
  expect(delivered.twice.length).toBeLessThanOrEqual(delivered.resent + delivered.retried);
}

function table(rows: Figures[]): string {
  const header = ['phase', 'recipients', ...workers.map((_, index) => `worker ${index + 1}`), 'seconds', 'first push after', 'msg/s', 'twice at push service', 'resent after kill', 'retried after timeout'];
  const body = rows.map((row) => [
    row.phase,
    RECIPIENTS.toLocaleString(),
    ...row.shares.map((share) => (typeof share === 'number' ? `${share.toLocaleString()} (${Math.round((share / RECIPIENTS) * 100)}%)` : share)),
    row.seconds.toFixed(1),
    `${row.firstPush.toFixed(1)} s`,
    Math.round(RECIPIENTS / row.seconds).toLocaleString(),
    String(row.twice),
    String(row.resent),
    String(row.retried),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ');
  return [`several workers share one send (api + ${WORKERS} workers, Redis):`, line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}
