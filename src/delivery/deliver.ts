import { setTimeout as sleep } from 'node:timers/promises';
import { CompiledContent, type Content, encryptedSize, MAX_ENCRYPTED_BYTES, MAX_TTL_SECONDS, RenderError } from '../campaigns/content.ts';
import { Prisma } from '../db/prisma.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { signToken } from '../tracking/token.ts';
import { trackingSecretOf, vapidKeysOf } from '../workspaces/secrets.ts';
import { trackUrlOf } from '../tracking/urls.ts';
import { type Transition, transition } from './ledger.ts';
import type { OpenPush, PushOutcome, Vapid } from './push-client.ts';
import { type Claim, deliveryPolicy } from './policy.ts';
import { enqueueDeliver } from './queue.ts';

/** A due ledger row with what rendering and sending it needs. */
export interface DueMessage {
  id: string;
  contactId: string;
  occurrence: string;
  timezone: string | null;
  attempts: number;
  subscriptionId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  subscriptionStatus: 'ACTIVE' | 'EXPIRED' | 'REVOKED';
  contact: Record<string, unknown>;
  /** A triggered message's event: { name, properties, occurredAt }. */
  event: Record<string, unknown> | null;
}

/** A message rendered and checked: either a payload to encrypt and send, or already settled. */
type Prepared = Ready | { message: DueMessage; settle: Transition };
type Ready = { message: DueMessage; payload: string };

const STATUS_CHECK_MS = 250;
/** Sending lanes per campaign (a power of two). */
const LANES = 4;
const FLUSH_MS = 100;
const FLUSH_ROWS = 500;

/** Campaigns whose messages go out: broadcasts while SENDING, triggered campaigns while ACTIVE. */
const DELIVERING = new Set(['SENDING', 'ACTIVE']);

/**
 * Messages whose requests went out while the COMMIT of their claim failed (the database connection
 * was lost): the push service has them, but the ledger may still say QUEUED. Recorded as
 * SENT/UNCONFIRMED before the campaign's next pass in this process, so they never go twice.
 */
const unrecorded = new Map<string, Set<string>>();

async function recordUnrecorded(herald: Herald, campaignId: string): Promise<void> {
  const ids = unrecorded.get(campaignId);
  if (!ids) return;
  const error = 'sent while the database connection was lost; the push service’s answer is unknown';
  await transition(herald, [...ids].map((id) => ({ id, from: 'QUEUED' as const, status: 'SENT' as const, reason: 'UNCONFIRMED' as const, error })));
  unrecorded.delete(campaignId);
  herald.log.warn({ campaignId, count: ids.size }, 'recorded messages sent while the database was away');
}

/** Campaigns this process is delivering now, and whether more rows came due meanwhile. */
const active = new Map<string, { again: boolean }>();

/**
 * Sends a campaign's due ledger rows until none are left, the campaign stops SENDING or ACTIVE (paused or
 * canceled: noticed within STATUS_CHECK_MS), or the process stops. A row is claimed
 * (QUEUED → SENDING) in a transaction once its request has a connected socket, and the COMMIT is
 * written in the same tick as the request: a crash before has sent the push service nothing and
 * leaves a claim the database rolls back (the row goes again), a crash after leaves both done.
 * Claims whose sender died before the push service answered are settled SENT/UNCONFIRMED after a
 * lease: never sent twice.
 */
export async function deliverCampaign(herald: Herald, campaignId: string, heartbeat: () => Promise<void> = async () => {}): Promise<void> {
  const running = active.get(campaignId);
  if (running) {
    // The running pass may have looked for due rows already: it makes one more pass.
    running.again = true;
    return;
  }
  const state = { again: false };
  active.set(campaignId, state);
  try {
    do {
      state.again = false;
      await deliverLoop(herald, campaignId, heartbeat);
    } while (state.again);
  } finally {
    active.delete(campaignId);
  }
}

async function deliverLoop(herald: Herald, campaignId: string, heartbeat: () => Promise<void>): Promise<void> {
  await recordUnrecorded(herald, campaignId);
  const campaign = await herald.prisma.campaign.findUnique({ where: { id: campaignId } });
  if (!campaign || !DELIVERING.has(campaign.status)) return;
  const sender = await messageSender(herald, campaign);
  const policy = await deliveryPolicy(herald, campaign, sender.workspace);
  const results = new ResultBuffer(herald);
  let stopped = false;
  let touchedAt = Date.now();
  const watcher = setInterval(() => {
    herald.prisma.campaign
      .findUnique({ where: { id: campaignId }, select: { status: true } })
      .then((current) => {
        if (!current || !DELIVERING.has(current.status)) stopped = true;
        // Agenda's lock lasts a minute; renewing it every 10 s is plenty.
        if (Date.now() - touchedAt < 10_000) return;
        touchedAt = Date.now();
        return heartbeat();
      })
      .catch((error: unknown) => herald.log.warn({ err: error, campaignId }, 'campaign status check failed'));
  }, STATUS_CHECK_MS);

  // Lanes work on disjoint rows (by a hash of the id), so one lane's database round trips overlap
  // another's requests instead of leaving the connections idle.
  const perLane = Math.max(1, Math.floor(herald.config.HERALD_PUSH_CONCURRENCY / LANES));
  let sent = 0;
  const lane = async (index: number) => {
    const inFlight = new Set<Promise<void>>();
    try {
      while (!stopped) {
        if (results.due()) await results.flush();
        const free = perLane - inFlight.size;
        // Refill when half the lane is free: a few large batches cost far less than many small ones
        // (claiming 4 rows took as long as claiming 60).
        if (inFlight.size > 0 && free < Math.max(1, perLane / 2)) {
          await Promise.race(inFlight);
          continue;
        }
        const due = await dueMessages(herald, campaignId, free, index);
        if (due.length === 0) {
          if (inFlight.size === 0) break;
          await Promise.race([...inFlight, sleep(FLUSH_MS)]);
          continue;
        }
        const { go, settle: held } = await policy.gate(due);
        const prepared = go.map((message) => sender.prepare(message));
        const ready = prepared.filter((item): item is Ready => 'payload' in item);
        // Connections and encryption (on its own thread) first, claims second, requests last: see PushClient.open.
        const pushes = Promise.all(ready.map((item) => sender.open(item.message)));
        let bodies: Buffer[];
        try {
          bodies = await sender.encrypt(ready);
        } catch (error) {
          for (const push of await pushes) push.abort();
          throw error;
        }
        const opened = (await pushes).map((push, index) => ({ message: ready[index]!.message, body: bodies[index]!, push }));
        const claims = ready.map(({ message }) => ({ id: message.id, from: 'QUEUED' as const, status: 'SENDING' as const, row: message }));
        const settled = [...held, ...prepared.flatMap((item) => ('settle' in item ? [item.settle] : []))];
        let claim: Claim;
        try {
          claim = await policy.claim(claims, settled);
        } catch (error) {
          for (const { push } of opened) push.abort(); // nothing claimed: these requests must never go out
          throw error;
        }
        // COMMIT and the requests leave in the same tick: a process killed at any moment has either
        // written both (the push service delivers, the claim stands) or neither (the push service
        // got nothing, the database rolls the claim back and the rows go again).
        const committed = claim.commit();
        for (const { message, body, push } of opened) {
          if (!claim.sending.has(message.id)) {
            push.abort(); // another worker claimed it first, or a frequency cap stopped it
            continue;
          }
          const request = push
            .send(body)
            .then((outcome) => results.add(message, outcome))
            .finally(() => inFlight.delete(request));
          inFlight.add(request);
          sent++;
        }
        try {
          await committed;
        } catch (error) {
          // The requests are out but the claim may be lost with the connection: remember them, so
          // they are recorded as sent before anything claims them again.
          unrecorded.set(campaignId, new Set([...(unrecorded.get(campaignId) ?? []), ...claim.sending]));
          throw error;
        }
      }
    } finally {
      // Requests already written finish and are recorded, whatever stopped the lane.
      await Promise.allSettled(inFlight);
    }
  };
  // A lane that fails stops the others, and the pass ends with its error once they have settled.
  const lanes = await Promise.allSettled(
    Array.from({ length: LANES }, (_, index) =>
      lane(index).catch((error: unknown) => {
        stopped = true;
        throw error;
      }),
    ),
  );
  clearInterval(watcher);
  await results.flush();
  const failed = lanes.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  herald.log.debug({ campaignId, sent }, 'delivery pass finished');
  await finishPass(herald, campaignId);
}

/** Up to `limit` of a lane's rows whose time has come, oldest due first. */
function dueMessages(herald: Herald, campaignId: string, limit: number, lane: number): Promise<DueMessage[]> {
  return queryDue(
    herald,
    Prisma.sql`m."campaignId" = ${campaignId}::uuid AND m.status = 'QUEUED' AND m."dueAt" <= now() AND (hashtext(m.id::text) & ${LANES - 1}) = ${lane}`,
    limit,
  );
}

/** Ledger rows matching `where` (on "Message" m), with their browser and contact. Plain pg: it runs for every batch sent. */
export async function queryDue(herald: Herald, where: Prisma.Sql, limit: number): Promise<DueMessage[]> {
  const query = Prisma.sql`
    SELECT m.id::text, m."contactId"::text, m.occurrence, COALESCE(c.timezone, s.timezone) AS timezone,
      m.attempts, s.id::text AS "subscriptionId", s.endpoint, s.p256dh, s.auth, s.status::text AS "subscriptionStatus",
      jsonb_build_object('id', c.id, 'externalId', c."externalId", 'anonymousId', c."anonymousId", 'email', c.email,
        'phone', c.phone, 'firstName', c."firstName", 'lastName', c."lastName", 'locale', c.locale,
        'timezone', c.timezone, 'tags', to_jsonb(c.tags), 'identified', c.identified, 'attributes', c.attributes) AS contact,
      CASE WHEN e.id IS NOT NULL THEN jsonb_build_object('name', e.name, 'properties', e.properties, 'occurredAt', e."occurredAt") END AS event
    FROM "Message" m
    JOIN "PushSubscription" s ON s.id = m."subscriptionId"
    JOIN "Contact" c ON c.id = m."contactId"
    LEFT JOIN "Event" e ON e.id = m."eventId"
    WHERE ${where}
    ORDER BY m."dueAt"
    LIMIT ${limit}`;
  return (await herald.pool.query<DueMessage>(query.text, query.values)).rows;
}

/** Renders, checks and encrypts one campaign's messages, and sends them. */
export async function messageSender(herald: Herald, campaign: Campaign) {
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId } });
  // Opened once per pass: every message of the pass signs with the same keys.
  const vapid: Vapid = await vapidKeysOf(herald, workspace);
  const trackingSecret = await trackingSecretOf(herald, workspace.id);
  const content = campaign.content as Content;
  const compiled = new CompiledContent(content);
  const trackUrl = trackUrlOf(herald);
  const { push } = herald;

  const fail = (message: DueMessage, status: Transition['status'], reason: Transition['reason'], error?: string): Prepared => ({
    message,
    settle: { id: message.id, from: 'QUEUED', status, reason, error },
  });

  return {
    workspace,

    prepare(message: DueMessage): Prepared {
      if (campaign.activeUntil && campaign.activeUntil.getTime() <= Date.now()) return fail(message, 'EXPIRED', 'EXPIRED', 'activeUntil has passed');
      if (message.subscriptionStatus === 'EXPIRED') return fail(message, 'FAILED', 'SUBSCRIPTION_GONE', 'the subscription expired before this send');
      if (message.subscriptionStatus === 'REVOKED') return fail(message, 'SUPPRESSED', 'NOT_ELIGIBLE', 'the visitor unsubscribed before this send');
      let payload: string;
      try {
        const token = signToken(message.id, trackingSecret);
        const scope = { contact: { ...(message.contact.attributes as object), ...message.contact }, event: message.event };
        payload = JSON.stringify(compiled.render(scope, { tag: message.id, token, trackUrl }));
      } catch (error) {
        if (error instanceof RenderError) return fail(message, 'FAILED', 'TEMPLATE_ERROR', error.message);
        throw error;
      }
      const size = encryptedSize(payload);
      if (size > MAX_ENCRYPTED_BYTES) return fail(message, 'FAILED', 'PAYLOAD_TOO_LARGE', `${size} bytes encrypted; push services accept ${MAX_ENCRYPTED_BYTES}`);
      return { message, payload };
    },

    /** The bodies of prepared messages, in order. */
    encrypt(ready: Ready[]): Promise<Buffer[]> {
      return push.encrypt(ready.map(({ message, payload }) => ({ p256dh: message.p256dh, auth: message.auth, payload })));
    },

    open(message: DueMessage): Promise<OpenPush> {
      return push.open({
        endpoint: message.endpoint,
        ttlSeconds: ttlSeconds(content, campaign.activeUntil),
        urgency: content.urgency ? content.urgency.toLowerCase().replace('_', '-') : null,
        topic: content.topic,
        authorization: push.authorization(message.endpoint, vapid),
      });
    },
  };
}

/** The smaller of the campaign's TTL and the time left until activeUntil. */
export function ttlSeconds(content: Content, activeUntil: Date | null, now = Date.now()): number {
  const ttl = content.ttlSeconds ?? MAX_TTL_SECONDS;
  if (!activeUntil) return ttl;
  return Math.max(0, Math.min(ttl, Math.floor((activeUntil.getTime() - now) / 1000)));
}

/** Push results waiting to be written to the ledger in one statement. */
class ResultBuffer {
  private rows: Transition[] = [];
  private gone: string[] = [];
  private since = Date.now();

  constructor(private readonly herald: Herald) {}

  add(message: DueMessage, outcome: PushOutcome): void {
    if (this.rows.length === 0) this.since = Date.now();
    this.rows.push(settleOutcome(this.herald, message, outcome));
    if (outcome.kind === 'gone') this.gone.push(message.subscriptionId);
  }

  due(): boolean {
    return this.rows.length >= FLUSH_ROWS || (this.rows.length > 0 && Date.now() - this.since >= FLUSH_MS);
  }

  async flush(): Promise<void> {
    const rows = this.rows;
    const gone = this.gone;
    this.rows = [];
    this.gone = [];
    if (gone.length) await expireSubscriptions(this.herald, gone);
    await transition(this.herald, rows);
  }
}

/** How a push service's answer moves the ledger row (SENDING → final, or back to QUEUED to retry). */
export function settleOutcome(herald: Herald, message: DueMessage, outcome: PushOutcome, maxAttempts = herald.config.HERALD_PUSH_MAX_ATTEMPTS): Transition {
  const base = { id: message.id, from: 'SENDING' as const };
  switch (outcome.kind) {
    case 'sent':
      return { ...base, status: 'SENT', reason: 'ACCEPTED' };
    case 'gone':
      return { ...base, status: 'FAILED', reason: 'SUBSCRIPTION_GONE', error: outcome.error };
    case 'rejected':
      return { ...base, status: 'FAILED', reason: outcome.tooLarge ? 'PAYLOAD_TOO_LARGE' : 'PUSH_SERVICE_REJECTED', error: outcome.error };
    case 'retry': {
      const attempts = message.attempts + 1;
      if (attempts >= maxAttempts) return { ...base, status: 'FAILED', reason: 'RETRIES_EXHAUSTED', error: outcome.error };
      return { ...base, status: 'QUEUED', error: outcome.error, dueAt: new Date(Date.now() + retryDelayMs(herald, attempts, outcome.retryAfterMs)) };
    }
  }
}

/** Retry-After when the service gave one (capped at an hour), else exponential backoff with full jitter. */
export function retryDelayMs(herald: Herald, attempts: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, 3600_000);
  const ceiling = herald.config.HERALD_PUSH_RETRY_BASE_MS * 2 ** (attempts - 1);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

async function expireSubscriptions(herald: Herald, ids: string[]): Promise<void> {
  await herald.prisma.pushSubscription.updateMany({ where: { id: { in: ids }, status: 'ACTIVE' }, data: { status: 'EXPIRED' } });
}

/**
 * After a pass: settle claims whose sender died (at most once: SENT/UNCONFIRMED), wake up again
 * for rows due later, or mark the campaign SENT when every row is final.
 */
export async function finishPass(herald: Herald, campaignId: string): Promise<void> {
  const leaseMs = herald.config.HERALD_PUSH_TIMEOUT_MS + 5_000;
  const stale = await herald.prisma.message.findMany({
    where: { campaignId, status: 'SENDING', claimedAt: { lt: new Date(Date.now() - leaseMs) } },
    select: { id: true },
  });
  if (stale.length) {
    await transition(herald, stale.map(({ id }) => ({ id, from: 'SENDING', status: 'SENT', reason: 'UNCONFIRMED', error: 'the sender stopped before the push service answered' })));
    herald.log.warn({ campaignId, count: stale.length }, 'settled claims of a stopped sender as unconfirmed');
  }
  const [next] = await herald.prisma.$queryRaw<{ queued: Date | null; claimed: Date | null }[]>`
    SELECT (SELECT min("dueAt") FROM "Message" WHERE "campaignId" = ${campaignId}::uuid AND status = 'QUEUED') AS queued,
           (SELECT min("claimedAt") FROM "Message" WHERE "campaignId" = ${campaignId}::uuid AND status = 'SENDING') AS claimed`;
  const wakeAt = [next?.queued, next?.claimed && new Date(next.claimed.getTime() + leaseMs)]
    .filter((date): date is Date => date instanceof Date)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  if (wakeAt) return scheduleWake(herald, campaignId, wakeAt);

  const { count } = await herald.prisma.campaign.updateMany({
    where: { id: campaignId, status: 'SENDING', preparedAt: { not: null }, messages: { none: { status: { in: ['QUEUED', 'SENDING'] } } } },
    data: { status: 'SENT', completedAt: new Date() },
  });
  if (count) {
    herald.log.info({ campaignId }, 'campaign sent');
    herald.events.publish('campaign:changed', campaignId, { reason: 'sent' });
  }
}

/** One job per wake-up time: a later or equal wake already planned is not planned again. */
export async function scheduleWake(herald: Herald, campaignId: string, at: Date): Promise<void> {
  await scheduleWakes(herald, new Map([[campaignId, at]]));
}

/** `scheduleWake` for many campaigns in one statement (a batch of events may touch twenty). */
export async function scheduleWakes(herald: Herald, wakes: ReadonlyMap<string, Date>): Promise<void> {
  if (wakes.size === 0) return;
  const minimum = Date.now() + 50;
  const planned = [...wakes].map(([id, at]) => ({ id, at: new Date(Math.max(at.getTime(), minimum)).toISOString() }));
  const moved = await herald.prisma.$queryRaw<{ id: string; wakeAt: Date }[]>`
    UPDATE "Campaign" c SET "wakeAt" = w.at
    FROM jsonb_to_recordset(${JSON.stringify(planned)}::jsonb) AS w(id uuid, at timestamptz)
    WHERE c.id = w.id AND (c."wakeAt" IS NULL OR c."wakeAt" <= now() OR c."wakeAt" > w.at)
    RETURNING c.id::text, c."wakeAt"`;
  for (const { id, wakeAt } of moved) await enqueueDeliver(herald, id, wakeAt);
}
