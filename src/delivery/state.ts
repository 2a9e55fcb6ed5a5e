import { CLAIM_SLOTS, Slots } from './claim-transaction.ts';
import { Mailers } from './email/mailers.ts';
import { WebhookClient } from './webhook/client.ts';
import { MobilePushClients, type MobilePushConfig } from './mobile-push/clients.ts';
import { SmsClient } from './sms/client.ts';
import type { SmsConfig } from '../workspaces/sms-settings.ts';
import type { KnownListeners } from './triggers.ts';

/**
 * A campaign's passes in this process. A `delivery:due` signal for it hands its rows to the running
 * pass (`wake` with the signal's lane mask, true when those lanes will look again) or asks for one
 * more pass (`again`).
 */
export interface PassState {
  again: boolean;
  wake(lanes: number): boolean;
}

/**
 * What one Herald process keeps in memory about its deliveries. It lives on the Herald context
 * (`herald.deliveries`), so two Heralds in one process (tests, a future in-process worker pool)
 * never share it, and nothing in a module is global.
 */
export interface DeliveryState {
  /** Campaigns this process delivers now. */
  active: Map<string, PassState>;
  /**
   * Claims whose requests went out while their COMMIT failed (the database connection was lost),
   * by campaign: the provider may have them, but the ledger still says QUEUED. Before the
   * campaign's next pass in this process they are marked RESENT_AFTER_CRASH (or, on an
   * at-most-once channel, recorded SENT/UNCONFIRMED), so the ledger says what happened.
   */
  unrecorded: Map<string, Set<string>>;
  /**
   * What this process last read of each workspace's listeners, its triggered campaigns with their
   * version: a batch of events reads only the version while it is unchanged (listeningCampaignsJsonSql).
   */
  listeners: Map<string, KnownListeners>;
  /** In-memory wake-ups planned for short trigger delays, per campaign and 100 ms slot. */
  kicks: Set<string>;
  /** Claim transactions open at once in this process (see claim-transaction.ts). */
  claimSlots: Slots;
  /** Messages this process handed to a provider, by channel: `herald_messages_sent_total`. */
  sent: Map<string, number>;
  /** Pooled SMTP transports for the email channel. */
  mailers: Mailers;
  /** Keep-alive HTTPS connections to webhook receivers. */
  webhooks: WebhookClient;
  /** HTTP/2 connections to APNs and FCM, with their cached auth tokens, for the mobile push channel. */
  mobile: MobilePushClients;
  /** Keep-alive HTTPS connections to the SMS provider. */
  sms: SmsClient;
}

export function createDeliveryState(config: ConstructorParameters<typeof Mailers>[0] & ConstructorParameters<typeof WebhookClient>[0] & MobilePushConfig & SmsConfig): DeliveryState {
  return {
    active: new Map(), unrecorded: new Map(), listeners: new Map(), kicks: new Set(), claimSlots: new Slots(CLAIM_SLOTS), sent: new Map(), mailers: new Mailers(config), webhooks: new WebhookClient(config),
    mobile: new MobilePushClients(config),
    sms: new SmsClient(config),
  };
}
