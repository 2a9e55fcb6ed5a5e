import { setTimeout as sleep } from 'node:timers/promises';
import { Prisma } from '../db/prisma.ts';
import { sqlQuery } from '../db/sql-transaction.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { type Channel, type ChannelSender, type DeliveryOutcome, type DueMessage, type Outgoing, prepareMessage, type Ready } from './channel.ts';
import { ClaimTransaction } from './claim-transaction.ts';
import { channelFor } from './channels.ts';
import { senderFor } from './experiment.ts';
import { cancelWaiting, type Transition, transition } from './ledger.ts';
import { type Claim, deliveryPolicy } from './policy.ts';
import { enqueueDeliver } from './queue.ts';
import type { PassState } from './state.ts';

/**
 * The delivery pipeline, the same for every channel: due ledger rows → policy (audience,
 * exception events, delivery window) → the channel renders and stages each message → claim
 * (QUEUED → SENDING, frequency caps) → COMMIT and send in one tick → settle the provider's answer.
 */

const STATUS_CHECK_MS = 250;
/** Sending lanes per campaign (a power of two). */
const LANES = 4;
/** Every lane's bit: what a `delivery:due` signal without lanes wakes. */
const ALL_LANES = (1 << LANES) - 1;

/**
 * The bit mask of the sending lanes that take these ledger rows. A row's lane is the low bits of
 * its id's last byte (random in a UUIDv7 and in trigger entry's md5 ids), the same in dueQuery's SQL,
 * so a trigger's `delivery:due` names the lanes its rows fall in and only those look for them.
 */
export function lanesOf(messageIds: readonly string[]): number {
  let lanes = 0;
  for (const id of messageIds) lanes |= 1 << (Number.parseInt(id.slice(-2), 16) & (LANES - 1));
  return lanes;
}

/** A ledger row's lane in SQL (`id`: its uuid column), as `lanesOf` reads it. */
export const laneSql = (id: Prisma.Sql) => Prisma.sql`(get_byte(uuid_send(${id}), 15) & ${LANES - 1})`;

const FLUSH_MS = 100;
const FLUSH_ROWS = 500;
/**
 * A triggered campaign's (or a journey step's) pass, out of due rows, waits this long for a
 * `delivery:due` before it ends: a steady stream of triggers is sent by one pass, each message
 * without a new pass's round trips (campaign, workspace, policy; then the pass's end, which plans
 * wake-ups). Measured in docs/benchmarks.md ("The browser's path").
 */
const LINGER_MS = 250;
/** A lane whose whole batch belonged to contacts another sender held waits this long before asking again. */
const BUSY_CONTACTS_MS = 20;

/** Campaigns whose messages go out: broadcasts while SENDING, triggered campaigns while ACTIVE. */
const DELIVERING = new Set(['SENDING', 'ACTIVE']);

/**
 * How a pass ended, for the campaign to decide what follows: `idle` when no row is QUEUED or
 * SENDING any more (a broadcast may be complete), `waiting` when rows remain and a wake-up is
 * planned, `stopped` when the campaign is not delivering or this process already delivers it.
 */
export type PassResult = 'idle' | 'waiting' | 'stopped';

/**
 * Sends a campaign's due ledger rows until none are left, the campaign stops SENDING or ACTIVE
 * (paused or canceled: noticed within STATUS_CHECK_MS), or the process stops. A row is claimed
 * (QUEUED → SENDING) in a transaction once its message is staged (web push: connected and
 * encrypted), and the COMMIT is written in the same tick as the send: a crash before has sent
 * nothing and leaves a claim the database rolls back (the row goes again), a crash after leaves
 * both done. Claims whose sender died before the provider answered are settled after a lease.
 */
export async function deliverCampaign(herald: Herald, campaignId: string, heartbeat: () => Promise<void> = async () => {}, lanes = ALL_LANES): Promise<PassResult> {
  const { active } = herald.deliveries;
  const running = active.get(campaignId);
  if (running) {
    // The running pass takes the new rows if every lane will look again; else it makes one more pass.
    if (!running.wake(lanes)) running.again = true;
    return 'stopped';
  }
  const state: PassState = { again: false, wake: () => false };
  active.set(campaignId, state);
  try {
    let result: PassResult;
    do {
      state.again = false;
      state.wake = () => false;
      result = await deliverPass(herald, campaignId, heartbeat, state);
    } while (state.again);
    return result;
  } finally {
    active.delete(campaignId);
  }
}

async function deliverPass(herald: Herald, campaignId: string, heartbeat: () => Promise<void>, state: PassState): Promise<PassResult> {
  const campaign = await herald.prisma.campaign.findUnique({ where: { id: campaignId } });
  if (!campaign) return 'stopped';
  const channel = channelFor(campaign);
  await recordUnrecorded(herald, campaign, channel);
  // A retry written after the campaign was canceled (its request was in flight then) waits no more: its wake-up lands here.
  if (campaign.status === 'CANCELED') await cancelWaiting(herald, campaignId);
  if (!DELIVERING.has(campaign.status)) return 'stopped';
  // From here the pass's lanes will see every row committed before a signal: it takes them.
  state.wake = () => true;
  const pass = await DeliveryPass.open(herald, campaign, channel, heartbeat);
  state.wake = (lanes) => pass.wake(lanes);
  const sent = await pass.run();
  herald.log.debug({ campaignId, sent }, 'delivery pass finished');
  return finishPass(herald, campaign, channel);
}

/**
 * Claims whose COMMIT failed after their messages left (see DeliveryState) are still QUEUED: the
 * provider may have them. Their lost claim is written first, so each counts as sent once (frequency
 * caps count it against others and do not judge its resend again); then, as a stopped sender's
 * claim, a `resend` channel marks it RESENT_AFTER_CRASH (it goes again and is shown once), others
 * record it SENT/UNCONFIRMED, never sent again. Stopped between the two, the lease settles it.
 */
async function recordUnrecorded(herald: Herald, campaign: Campaign, channel: Channel<unknown>): Promise<void> {
  const ids = herald.deliveries.unrecorded.get(campaign.id);
  if (!ids) return;
  const error = 'sent while the database connection was lost; the provider’s answer is unknown';
  const claimed = await transition(herald, [...ids].map((id): Transition => ({ id, from: 'QUEUED', status: 'SENDING' })));
  const moves: Transition[] = [...claimed].map((id) =>
    channel.afterCrash === 'resend'
      ? { id, from: 'SENDING', status: 'QUEUED', reason: 'RESENT_AFTER_CRASH', error }
      : { id, from: 'SENDING', status: 'SENT', reason: 'UNCONFIRMED', error },
  );
  await transition(herald, moves);
  herald.deliveries.unrecorded.delete(campaign.id);
  herald.log.warn({ campaignId: campaign.id, count: ids.size }, 'recorded messages sent while the database was away');
}

/**
 * One pass over a campaign's due rows. LANES lanes work on disjoint rows (by the id's last byte, `lanesOf`), so
 * one lane's database round trips overlap another's sends instead of leaving connections idle; a
 * lane that fails stops the others, and the pass ends with its error once they have settled.
 */
class DeliveryPass {
  private stopped = false;
  private sent = 0;
  /** Lanes still in their loop, each bound to look for due rows again after a `wake`. */
  private looking = LANES;
  /** How many `delivery:due` signals naming each lane this pass took; a lane compares its own before and after it looks. */
  private readonly wakes: number[] = Array(LANES).fill(0);
  /** The lanes lingering for a wake: `wake` ends the wait, `linger` starts its LINGER_MS again. */
  private readonly waiting = new Map<number, { wake(): void; linger(): void }>();
  private readonly perLane: number;
  private readonly results: ResultBuffer;

  private constructor(
    private readonly herald: Herald,
    private readonly campaign: Campaign,
    private readonly channel: Channel<unknown>,
    private readonly sender: ChannelSender<unknown>,
    private readonly policy: Awaited<ReturnType<typeof deliveryPolicy>>,
    private readonly heartbeat: () => Promise<void>,
  ) {
    this.perLane = Math.max(1, Math.floor(Math.min(herald.config.HERALD_PUSH_CONCURRENCY, channel.inFlight ?? Infinity) / LANES));
    this.results = new ResultBuffer(herald, channel, sender);
  }

  static async open(herald: Herald, campaign: Campaign, channel: Channel<unknown>, heartbeat: () => Promise<void>): Promise<DeliveryPass> {
    const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId } });
    const sender = await senderFor(herald, channel, campaign, workspace);
    const policy = await deliveryPolicy(herald, campaign, workspace);
    return new DeliveryPass(herald, campaign, channel, sender, policy, heartbeat);
  }

  /** Runs the lanes to the end; answers how many messages were sent. */
  async run(): Promise<number> {
    const watcher = this.watch();
    const lanes = await Promise.allSettled(
      Array.from({ length: LANES }, (_, index) =>
        this.lane(index).catch((error: unknown) => {
          this.stopped = true;
          throw error;
        }),
      ),
    );
    clearInterval(watcher);
    await this.results.flush();
    const failed = lanes.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return this.sent;
  }

  /**
   * New rows are due (a trigger fired) in `lanes` (a bit mask): those lanes wake and look; the
   * others, whose shares got nothing, linger LINGER_MS again, since the campaign is still being
   * triggered (one lane timing out would end the pass for all). Answers false when a lane has
   * left, which would not see rows of its share: then the campaign needs another pass.
   */
  wake(lanes: number): boolean {
    if (this.stopped || this.looking < LANES) return false;
    for (let lane = 0; lane < LANES; lane++) {
      if (lanes & (1 << lane)) {
        this.wakes[lane]!++;
        this.waiting.get(lane)?.wake();
      } else {
        this.waiting.get(lane)?.linger();
      }
    }
    return true;
  }

  /**
   * Whether a lane with nothing due and nothing in flight stays: a triggered campaign's lane waits
   * up to LINGER_MS for a wake (its written answers sent first), a broadcast's rows were all due
   * already. A lane that leaves stops `looking` in the tick it decides to, so no wake is taken for it.
   */
  private async stays(lane: number, seen: number): Promise<boolean> {
    if (this.campaign.kind !== 'BROADCAST' && !this.stopped && this.looking === LANES && this.wakes[lane] === seen) {
      this.results.write();
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, LINGER_MS);
        this.waiting.set(lane, {
          wake: resolve,
          linger: () => {
            clearTimeout(timer);
            timer = setTimeout(resolve, LINGER_MS);
          },
        });
      });
      clearTimeout(timer);
      this.waiting.delete(lane);
    }
    if (this.wakes[lane] !== seen && !this.stopped) return true;
    this.leave();
    return false;
  }

  /** This lane looks no more: the pass takes no more wakes, and the lanes waiting for one leave too. */
  private leave(): void {
    this.looking--;
    for (const { wake } of this.waiting.values()) wake();
  }

  /** Notices within STATUS_CHECK_MS that the campaign stopped delivering, and keeps Agenda's lock alive. */
  private watch(): NodeJS.Timeout {
    let touchedAt = Date.now();
    return setInterval(() => {
      this.herald.prisma.campaign
        .findUnique({ where: { id: this.campaign.id }, select: { status: true } })
        .then((current) => {
          if (!current || !DELIVERING.has(current.status)) this.stopped = true;
          // Agenda's lock lasts a minute; renewing it every 10 s is plenty.
          if (Date.now() - touchedAt < 10_000) return;
          touchedAt = Date.now();
          return this.heartbeat();
        })
        .catch((error: unknown) => this.herald.log.warn({ err: error, campaignId: this.campaign.id }, 'campaign status check failed'));
    }, STATUS_CHECK_MS);
  }

  /** One lane: keeps up to `perLane` messages in flight, refilling in large batches. */
  private async lane(index: number): Promise<void> {
    const inFlight = new InFlight();
    let left = false;
    try {
      while (!this.stopped) {
        // Written while the lane goes on claiming and sending: a 500-row write held its lane for its whole round trip.
        if (this.results.due()) this.results.write();
        const free = this.perLane - inFlight.size;
        const seen = this.wakes[index]!;
        // Refill when half the lane is free: a few large batches cost far less than many small ones
        // (claiming 4 rows took as long as claiming 60).
        if (inFlight.size > 0 && free < Math.max(1, this.perLane / 2)) {
          await inFlight.next();
          continue;
        }
        const { tx, rows: due } = await ClaimTransaction.begin<DueMessage>(this.herald, dueQuery(this.channel, this.campaign.id, free, index));
        if (due.length === 0) {
          await tx.rollback();
          if (inFlight.size === 0) {
            if (await this.stays(index, seen)) continue;
            left = true;
            break;
          }
          await Promise.race([inFlight.next(), sleep(FLUSH_MS)]);
          continue;
        }
        const { claimed, skipped } = await this.sendBatch(tx, due, (request) => inFlight.add(request));
        // Every row was another sender's contact (frequency caps): let it finish before asking again.
        if (claimed === 0 && skipped > 0) await sleep(BUSY_CONTACTS_MS);
      }
    } finally {
      if (!left) this.leave();
      // Messages already sent finish and are recorded, whatever stopped the lane.
      await inFlight.settled();
    }
  }

  /**
   * Policy, render, stage, claim, then COMMIT and send together, all in `tx` (which holds the due
   * rows); `track` receives each send in flight. Answers how many rows were claimed, and how many
   * were left for later because their contact was busy with another sender.
   */
  private async sendBatch(tx: ClaimTransaction, due: DueMessage[], track: (request: Promise<void>) => void): Promise<{ claimed: number; skipped: number }> {
    let claim: Claim;
    let outgoing: Outgoing[];
    let ready: Ready<unknown>[];
    try {
      const { go, settle: held } = await this.policy.gate(tx, due);
      const prepared = go.map((message) => prepareMessage(this.sender, message));
      ready = prepared.filter((item): item is Ready<unknown> => 'payload' in item);
      const settled = [...held, ...prepared.flatMap((item) => ('settle' in item ? [item.settle] : []))];
      const staged = await this.sender.stage(ready);
      // Messages the channel settled as it staged them are settled with the others, never claimed.
      settled.push(...staged.flatMap((item) => ('settle' in item ? [item.settle] : [])));
      ready = ready.filter((_, index) => !('settle' in staged[index]!));
      outgoing = staged.filter((item): item is Outgoing => !('settle' in item));
      const claims = ready.map(({ message }) => ({ ...claimOf(this.channel, message), row: message }));
      try {
        claim = await this.policy.claim(tx, claims, settled);
      } catch (error) {
        for (const message of outgoing) message.abort(); // nothing claimed: these must never go out
        throw error;
      }
    } catch (error) {
      await tx.rollback();
      throw error;
    }

    // COMMIT and the sends leave in the same tick: a process killed at any moment has either
    // written both (the provider delivers, the claim stands) or neither (the provider got nothing,
    // the database rolls the claim back and the rows go again).
    const committed = claim.commit();
    ready.forEach(({ message }, index) => {
      const staged = outgoing[index]!;
      if (!claim.sending.has(message.id)) return staged.abort(); // a frequency cap stopped it, or its contact was busy
      // The answer is written only once the claim is: an UPDATE … WHERE status = 'SENDING' that
      // began before the COMMIT was visible would skip the row (its snapshot still says QUEUED),
      // leaving it SENDING until the lease sends it again. A fast provider answers within the
      // COMMIT's fsync; under load, seen as resends of messages that had been accepted.
      track(staged.send().then((outcome) => committed.then(() => this.results.add(message, outcome), () => {})));
      this.sent++;
    });
    try {
      await committed;
    } catch (error) {
      // The messages are out but the claim may be lost with the connection: remember them, so
      // they are recorded as sent before anything claims them again.
      const { unrecorded } = this.herald.deliveries;
      unrecorded.set(this.campaign.id, new Set([...(unrecorded.get(this.campaign.id) ?? []), ...claim.sending]));
      throw error;
    }
    return { claimed: claim.sending.size, skipped: claim.skipped };
  }
}

/**
 * A lane's requests in flight. `next()` is one waiter woken by the next request to finish; a
 * `Promise.race` over the whole set, taken each time one finished, attached a reaction to every
 * request still in flight (~64 per message sent, 17-23 µs of CPU per message in a model of a lane).
 */
class InFlight {
  private readonly requests = new Set<Promise<void>>();
  private waiting: (() => void)[] = [];
  private failure: { error: unknown } | undefined;

  get size(): number {
    return this.requests.size;
  }

  add(request: Promise<void>): void {
    const done = () => {
      this.requests.delete(tracked);
      const waiting = this.waiting;
      this.waiting = [];
      for (const wake of waiting) wake();
    };
    const tracked: Promise<void> = request.then(done, (error: unknown) => {
      this.failure ??= { error };
      done();
    });
    this.requests.add(tracked);
  }

  /** Settles when a request in flight finishes (at once if none is); rejects with a request's failure. */
  async next(): Promise<void> {
    if (!this.failure && this.requests.size > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failure) throw this.failure.error;
  }

  /** Settles when every request in flight has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.requests);
  }
}

/**
 * Up to `limit` of a lane's rows whose time has come, oldest due first, locked for the claim
 * transaction; rows another lane or worker holds are skipped, so senders take disjoint batches.
 * Test sends are not the campaign's: sendNow alone sends them (a pass took one too, sending it twice).
 */
function dueQuery(channel: Channel<unknown>, campaignId: string, limit: number, lane: number): Prisma.Sql {
  return dueSql(
    channel,
    Prisma.sql`m."campaignId" = ${campaignId}::uuid AND m.status = 'QUEUED' AND NOT m.test AND m."dueAt" <= now() AND ${laneSql(Prisma.sql`m.id`)} = ${lane}`,
    limit,
    Prisma.sql`FOR UPDATE OF m SKIP LOCKED`,
  );
}

/** Ledger rows matching `where` (on "Message" m), with their contact and the channel's address. */
function dueSql(channel: Channel<unknown>, where: Prisma.Sql, limit: number, locking: Prisma.Sql = Prisma.empty): Prisma.Sql {
  return Prisma.sql`
    SELECT m.id::text, m."contactId"::text, m.occurrence, m.test, m.variant, COALESCE(c.timezone, ${channel.address.timezone}) AS timezone, m.attempts, m.reason::text,
      ${channel.address.value} AS address,
      jsonb_build_object('id', c.id, 'externalId', c."externalId", 'anonymousId', c."anonymousId", 'email', c.email,
        'phone', c.phone, 'firstName', c."firstName", 'lastName', c."lastName", 'locale', c.locale,
        'timezone', c.timezone, 'tags', to_jsonb(c.tags), 'identified', c.identified, 'attributes', c.attributes) AS contact,
      CASE WHEN e.id IS NOT NULL THEN jsonb_build_object('name', e.name, 'properties', e.properties, 'occurredAt', e."occurredAt") END AS event
    FROM "Message" m
    ${channel.address.join}
    JOIN "Contact" c ON c.id = m."contactId"
    LEFT JOIN "Event" e ON e.id = m."eventId"
    WHERE ${where}
    ORDER BY m."dueAt"
    LIMIT ${limit}
    ${locking}`;
}

/**
 * Sends one QUEUED ledger row now, whatever its campaign's status, and settles it without
 * retrying: a test send, watched as it happens.
 */
export async function sendNow(herald: Herald, campaign: Campaign, messageId: string): Promise<void> {
  const channel = channelFor(campaign);
  const query = dueSql(channel, Prisma.sql`m.id = ${messageId}::uuid`, 1);
  const [message] = (await herald.pool.query<DueMessage>(query.text, query.values)).rows;
  if (!message) throw new Error(`ledger row ${messageId} has no address on its channel`);
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: campaign.workspaceId } });
  const sender = await senderFor(herald, channel, campaign, workspace);
  const prepared = prepareMessage(sender, message);
  if ('settle' in prepared) return void (await transition(herald, [prepared.settle]));
  const [staged] = await sender.stage([prepared]);
  if ('settle' in staged!) return void (await transition(herald, [staged.settle]));
  await transition(herald, [claimOf(channel, message)]);
  const outcome = await staged!.send();
  if (outcome.kind === 'sent') countSent(herald, channel);
  if (outcome.kind === 'gone') await sender.forget([message]);
  await transition(herald, [settleOutcome(herald, message, outcome, 1)]);
}

/** The claim of a due message (QUEUED → SENDING), with the address it goes to when its channel keeps one. */
function claimOf(channel: Channel<unknown>, message: DueMessage): Transition & { from: 'QUEUED'; status: 'SENDING' } {
  return { id: message.id, from: 'QUEUED', status: 'SENDING', sentTo: channel.sentTo?.(message.address) ?? null };
}

/** Providers' answers waiting to be written to the ledger in one statement. */
class ResultBuffer {
  private rows: Transition[] = [];
  private gone: DueMessage[] = [];
  private since = Date.now();
  private writing: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly herald: Herald,
    private readonly channel: Channel<unknown>,
    private readonly sender: ChannelSender<unknown>,
  ) {}

  add(message: DueMessage, outcome: DeliveryOutcome): void {
    if (this.rows.length === 0) this.since = Date.now();
    if (outcome.kind === 'sent') countSent(this.herald, this.channel);
    this.rows.push(settleOutcome(this.herald, message, outcome));
    if (outcome.kind === 'gone') this.gone.push(message);
  }

  due(): boolean {
    return this.rows.length >= FLUSH_ROWS || (this.rows.length > 0 && Date.now() - this.since >= FLUSH_MS);
  }

  /**
   * Starts writing the buffered answers, without waiting, unless a write is under way (one at a
   * time: the next takes what came meanwhile). A write that failed is thrown here, and by `flush`.
   */
  write(): void {
    if (this.failure) throw this.failure.error;
    if (this.writing || (this.rows.length === 0 && this.gone.length === 0)) return;
    this.writing = this.writeNow()
      .catch((error: unknown) => void (this.failure ??= { error }))
      .finally(() => (this.writing = undefined));
  }

  /** Writes every answer buffered so far, after the write under way. */
  async flush(): Promise<void> {
    await this.writing;
    if (this.failure) throw this.failure.error;
    await this.writeNow();
  }

  private async writeNow(): Promise<void> {
    const rows = this.rows;
    const gone = this.gone;
    this.rows = [];
    this.gone = [];
    if (gone.length) await this.sender.forget(gone);
    await transition(this.herald, rows);
  }
}

function countSent(herald: Pick<Herald, 'deliveries'>, channel: Channel<unknown>): void {
  const { sent } = herald.deliveries;
  sent.set(channel.name, (sent.get(channel.name) ?? 0) + 1);
}

/** How a provider's answer moves the ledger row (SENDING → final, or back to QUEUED to retry). */
export function settleOutcome(
  herald: Pick<Herald, 'config'>,
  message: Pick<DueMessage, 'id' | 'attempts' | 'reason'>,
  outcome: DeliveryOutcome,
  maxAttempts = herald.config.HERALD_PUSH_MAX_ATTEMPTS,
): Transition {
  const base = { id: message.id, from: 'SENDING' as const };
  // A resend keeps saying so, whatever comes of it.
  const resent = message.reason === 'RESENT_AFTER_CRASH';
  switch (outcome.kind) {
    case 'sent':
      return { ...base, status: 'SENT', reason: resent ? 'RESENT_AFTER_CRASH' : 'ACCEPTED' };
    case 'gone':
      return { ...base, status: 'FAILED', reason: outcome.reason ?? 'SUBSCRIPTION_GONE', error: outcome.error };
    case 'rejected':
      return { ...base, status: 'FAILED', reason: outcome.tooLarge ? 'PAYLOAD_TOO_LARGE' : (outcome.reason ?? 'PUSH_SERVICE_REJECTED'), error: outcome.error };
    case 'unconfirmed':
      return { ...base, status: 'SENT', reason: 'UNCONFIRMED', error: outcome.error };
    case 'retry': {
      const attempts = message.attempts + 1;
      if (attempts >= maxAttempts) return { ...base, status: 'FAILED', reason: 'RETRIES_EXHAUSTED', error: outcome.error };
      const dueAt = new Date(Date.now() + retryDelayMs(herald, attempts, outcome.retryAfterMs));
      return { ...base, status: 'QUEUED', reason: resent ? 'RESENT_AFTER_CRASH' : null, error: outcome.error, dueAt };
    }
  }
}

/** Retry-After when the provider gave one (capped at an hour), else exponential backoff with full jitter. */
export function retryDelayMs(herald: Pick<Herald, 'config'>, attempts: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, 3600_000);
  const ceiling = herald.config.HERALD_PUSH_RETRY_BASE_MS * 2 ** (attempts - 1);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * After a pass: claims whose sender died before the provider answered (older than the lease) are
 * sent again (RESENT_AFTER_CRASH) or recorded SENT/UNCONFIRMED, as the channel's guarantee says;
 * then a wake-up is planned for rows due later or claims still leased. `idle` when nothing is left.
 */
async function finishPass(herald: Herald, campaign: Campaign, channel: Channel<unknown>): Promise<PassResult> {
  const campaignId = campaign.id;
  const leaseMs = herald.config.HERALD_PUSH_TIMEOUT_MS + 5_000;
  const stale = await herald.prisma.message.findMany({
    where: { campaignId, status: 'SENDING', test: false, claimedAt: { lt: new Date(Date.now() - leaseMs) } },
    select: { id: true },
  });
  if (stale.length) {
    const error = 'the sender stopped before the provider answered';
    const resend = channel.afterCrash === 'resend';
    await transition(
      herald,
      stale.map(({ id }): Transition =>
        resend ? { id, from: 'SENDING', status: 'QUEUED', reason: 'RESENT_AFTER_CRASH', error, dueAt: new Date() } : { id, from: 'SENDING', status: 'SENT', reason: 'UNCONFIRMED', error },
      ),
    );
    herald.log.warn({ campaignId, count: stale.length }, resend ? 'claims of a stopped sender go again' : 'settled claims of a stopped sender as unconfirmed');
  }
  const [next] = await herald.prisma.$queryRaw<{ queued: Date | null; claimed: Date | null }[]>`
    SELECT (SELECT min("dueAt") FROM "Message" WHERE "campaignId" = ${campaignId}::uuid AND status = 'QUEUED' AND NOT test) AS queued,
           (SELECT min("claimedAt") FROM "Message" WHERE "campaignId" = ${campaignId}::uuid AND status = 'SENDING' AND NOT test) AS claimed`;
  const wakeAt = [next?.queued, next?.claimed && new Date(next.claimed.getTime() + leaseMs)]
    .filter((date): date is Date => date instanceof Date)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  if (!wakeAt) return 'idle';
  await scheduleWake(herald, campaignId, wakeAt);
  return 'waiting';
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
  // On the pool, not through Prisma, and named (parsed once per connection): a gathered batch of
  // browser events ends with this (issue #24).
  const query = Prisma.sql`
    UPDATE "Campaign" c SET "wakeAt" = w.at
    FROM jsonb_to_recordset(${JSON.stringify(planned)}::jsonb) AS w(id uuid, at timestamptz)
    WHERE c.id = w.id AND (c."wakeAt" IS NULL OR c."wakeAt" <= now() OR c."wakeAt" > w.at)
    RETURNING c.id::text, c."wakeAt"`;
  const moved = await sqlQuery<{ id: string; wakeAt: Date }>(herald.pool, query, { preparedStatements: herald.config.HERALD_PREPARED_STATEMENTS });
  for (const { id, wakeAt } of moved) await enqueueDeliver(herald, id, wakeAt);
}
