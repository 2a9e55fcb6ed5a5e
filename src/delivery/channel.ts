import { Prisma } from '../db/prisma.ts';
import type { $Enums, Campaign, Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import type { MessageReason, Transition } from './ledger.ts';
import { RenderError } from './templates.ts';

/**
 * The seam between the delivery pipeline (ledger → policy → claim → send → settle, in deliver.ts)
 * and a channel. The pipeline knows no channel: it asks the channel where a message goes (the
 * due query's `address`), has it render and stage each message, and settles what the channel's
 * provider answered. Web push (web-push/channel.ts) is the first channel; email, SMS and webhooks
 * plug in beside it.
 */

export type ChannelName = $Enums.Channel;

/** What a provider answered, sorted by what the pipeline does next. */
export type DeliveryOutcome =
  | { kind: 'sent' }
  /** The address is dead (a push subscription gone, an email bounced for good): never used again. */
  | { kind: 'gone'; error: string; reason?: MessageReason }
  /** Refused in a way retrying cannot help (PUSH_SERVICE_REJECTED unless `reason` says whose refusal it was). */
  | { kind: 'rejected'; error: string; tooLarge: boolean; reason?: MessageReason }
  /** Busy, failing or unreachable: try again later (after `retryAfterMs` when the provider said). */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /**
   * The whole request left but no answer came (a timeout, a connection cut): the provider may have
   * it. An at-most-once channel (SMS) answers this rather than `retry`: recorded SENT/UNCONFIRMED, never sent again.
   */
  | { kind: 'unconfirmed'; error: string };

/** A due ledger row with its recipient and, in `address`, where the channel delivers it. */
export interface DueMessage<Address = unknown> {
  id: string;
  contactId: string;
  occurrence: string;
  /** The recipient's zone: the contact's, else the address's (null when both are unknown). */
  timezone: string | null;
  attempts: number;
  /** A test send (sendTestMessage): goes to the address whatever the contact's consent. */
  test: boolean;
  /** The experiment variant whose content it carries (experiment.ts); null: the campaign's own. */
  variant: string | null;
  /** RESENT_AFTER_CRASH when a crash cut an earlier attempt's claim; else null while waiting. */
  reason: string | null;
  contact: Record<string, unknown>;
  /** A triggered message's event: { name, properties, occurredAt }. */
  event: Record<string, unknown> | null;
  address: Address;
}

/** A message rendered and checked: a payload to stage and send, or the ledger move that settles it now. */
export type Prepared<Address, Payload = unknown> = Ready<Address, Payload> | { message: DueMessage<Address>; settle: Transition };
export type Ready<Address, Payload = unknown> = { message: DueMessage<Address>; payload: Payload };

/** A message settled without sending: the ledger move a channel's `prepare` answers. */
export function settleNow<Address>(message: DueMessage<Address>, status: Transition['status'], reason: Transition['reason'], error?: string): Prepared<Address, never> {
  return { message, settle: { id: message.id, from: 'QUEUED', status, reason, error } };
}

/**
 * A sender's `prepare`, where a template that cannot render for this recipient (a RenderError,
 * on any channel) fails the message with TEMPLATE_ERROR instead of the batch: it is never sent.
 */
export function prepareMessage<Address, Payload>(sender: ChannelSender<Address, Payload>, message: DueMessage<Address>): Prepared<Address, Payload> {
  try {
    return sender.prepare(message);
  } catch (error) {
    if (error instanceof RenderError) return settleNow(message, 'FAILED', 'TEMPLATE_ERROR', error.message);
    throw error;
  }
}

/** One message ready to go out; nothing has left yet. */
export interface Outgoing {
  /** Sends it: from here on the provider may deliver the message. */
  send(): Promise<DeliveryOutcome>;
  /** Gives it up before anything left. */
  abort(): void;
}

/** A staged message: ready to go out, or settled while it was staged (email: it could not be rendered on the build thread), then never claimed or sent. */
export type Staged = Outgoing | { settle: Transition };

/** A channel at work on one campaign's messages. */
export interface ChannelSender<Address, Payload = unknown> {
  /** Renders and checks one message (cheap and synchronous: it runs for every message); a RenderError fails it (prepareMessage). */
  prepare(message: DueMessage<Address>): Prepared<Address, Payload>;
  /** Readies messages to go out (web push: encrypts them and opens connections), in order, without sending anything. */
  stage(ready: Ready<Address, Payload>[]): Promise<Staged[]>;
  /** The addresses of messages whose provider answered `gone`: they are never used again. */
  forget(messages: DueMessage<Address>[]): Promise<void>;
}

export interface Channel<Address, Payload = unknown> {
  /** The channel's name in the API (Campaign.channel, Message.channel). */
  name: ChannelName;
  /**
   * What happens to a claim a crash cut before the provider answered, the strongest guarantee the
   * channel's protocol allows: `resend` it after the lease (at least once on the wire; web push
   * shows it once because the service worker drops a repeated message id), or record it
   * `unconfirmed` and never send it again (at most once, for a channel whose receiver cannot
   * recognise a repeat).
   */
  afterCrash: 'resend' | 'unconfirmed';
  /**
   * Messages one send keeps in flight, when the channel needs fewer than HERALD_PUSH_CONCURRENCY
   * (email: a rendered message is ~50 KB and the mail server takes them over a few connections).
   */
  inFlight?: number;
  /**
   * Where a due message goes, for the due query over `"Message" m`: `join` reaches the address,
   * `value` builds it as one JSON value and `timezone` is its zone (used when the contact has none).
   * Rows without an address are not due on this channel.
   */
  address: { value: Prisma.Sql; timezone: Prisma.Sql; join: Prisma.Sql };
  /**
   * The address to keep on the message when it is claimed (Message.sentTo): reports that arrive
   * later (email: bounces, complaints, unsubscribes) change the contact only while it still has it.
   */
  sentTo?(address: Address): string | null;
  /**
   * The ledger rows contacts get on this channel, as a query over `source` (a relation of rows
   * with "contactId" and `marketing`, whether the campaign is subject to consent and caps): one
   * row per address (web push: per active browser) with "subscriptionId" (push only, else null),
   * "deviceId" (mobile push only, with `devices`: other channels may leave the column out),
   * "addressTimezone" (the address's zone, if it has one) and `skip`: the MessageReason of a row
   * written SUPPRESSED at once (no address, no consent), else null.
   */
  recipients(source: Prisma.Sql): Prisma.Sql;
  /** The recipients rows carry "deviceId" (mobile push): see deviceIdOf. */
  devices?: true;
  sender(herald: Herald, campaign: Campaign, workspace: Workspace): Promise<ChannelSender<Address, Payload>>;
  /**
   * Readies what a broadcast's first sends need while its audience is being written (email: starts
   * the build thread and compiles the campaign there). Best effort: the sender does it anyway.
   */
  warm?(herald: Herald, campaign: Campaign): Promise<void>;
}

/**
 * Channels whose provider reports delivery (SMS status callbacks set Message.deliveredAt). On the
 * others a message accepted by the provider and still SENT counts as delivered (campaign stats'
 * `delivered`, journeys' DELIVERED engagement).
 */
export const REPORTS_DELIVERY: ReadonlySet<$Enums.Channel> = new Set(['SMS']);

/**
 * The "deviceId" of a recipients row `r` of `channel`: its column when the channel addresses
 * devices (mobile push), else null, so the other channels need not name a column they never fill.
 * Decided here rather than per row (`to_jsonb(r)->>'deviceId'` built a JSON object per ledger row).
 */
export const deviceIdOf = (channel: Pick<Channel<unknown>, 'devices'>): Prisma.Sql => (channel.devices ? Prisma.sql`r."deviceId"` : Prisma.sql`NULL::uuid`);
