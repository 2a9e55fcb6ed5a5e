/**
 * "Why not sent", in the marketer's words: what each ledger reason means for the person. The
 * reasons are Herald's MessageReason values (schema/schema.graphql).
 */
export const REASONS: Record<string, string> = {
  ACCEPTED: 'Accepted for delivery (by the push service, mail server, SMS provider or webhook receiver; an on-site message waits for the next visit).',
  UNCONFIRMED: 'Sent, but the push service’s answer was lost; it may or may not have arrived.',
  RESENT_AFTER_CRASH: 'Sent again after Herald restarted mid-send; the browser shows it once.',
  PAYLOAD_TOO_LARGE: 'The rendered notification was over the 4 KB push limit.',
  SUBSCRIPTION_GONE: 'The browser had unsubscribed (the push service answered 404/410).',
  PUSH_SERVICE_REJECTED: 'The push service refused the message.',
  PROVIDER_REJECTED: 'The SMS provider or the webhook receiver refused the message.',
  RETRIES_EXHAUSTED: 'Every retry failed; Herald gave up.',
  TEMPLATE_ERROR: 'The template could not be rendered for this contact.',
  FREQUENCY_CAP: 'The contact had already had as many messages as the frequency cap allows.',
  QUIET_HOURS: 'It fell in the workspace’s quiet hours.',
  EXCEPTION_EVENT: 'The contact did the campaign’s exception event before it went out.',
  NO_SUBSCRIPTION: 'The contact has no browser subscribed to push.',
  NOT_ELIGIBLE: 'The contact no longer matched the audience, or had had this campaign already.',
  EXPIRED: 'The campaign’s “active until” time had passed.',
  CAMPAIGN_CANCELED: 'The campaign was canceled before this went out.',
  NO_EMAIL: 'The contact has no email address.',
  NO_PHONE: 'The contact has no phone number.',
  UNSUBSCRIBED: 'The contact unsubscribed from this channel.',
  BOUNCED: 'The address bounced: it cannot receive mail.',
  COMPLAINED: 'The contact reported an earlier email as spam.',
  HOLDOUT: 'Held out of the campaign to measure its effect.',
  CONTROL_GROUP: 'In the workspace’s control group, which gets no campaigns.',
  UNDELIVERED: 'The SMS provider accepted it, then reported it undelivered or failed.',
};

export const MESSAGE_STATUSES = ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'EXPIRED', 'SUPPRESSED', 'CANCELED'] as const;
