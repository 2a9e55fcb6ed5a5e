import { v7 as uuidv7 } from 'uuid';
import { sendNow } from '../delivery/deliver.ts';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { type Campaign, getCampaign, requireSendable } from './service.ts';

/**
 * Test sends: a campaign's message to one contact now, whatever the campaign's status, answered
 * as the ledger row in its final state. Test rows are kept out of the campaign's stats and are
 * never retried: the marketer is looking at the result.
 */

/** Sends the campaign's message on its own channel (a push to the contact's newest browser, an email to their address). */
export async function sendTestMessage(herald: Herald, workspaceId: string, campaignId: string, contactId: string): Promise<Message> {
  const campaign = await getCampaign(herald, workspaceId, campaignId);
  const contact = await herald.prisma.contact.findFirst({ where: { id: contactId, workspaceId }, select: { id: true, email: true, phone: true } });
  if (!contact) throw new NotFoundError(ErrorCode.contactNotFound, 'No contact with this id');
  switch (campaign.channel) {
    case 'WEB_PUSH':
      return send(herald, campaign, contactId, await newestBrowser(herald, contactId));
    case 'EMAIL':
      await requireSendable(herald, campaign, ['input', 'campaignId']);
      if (!contact.email) throw ValidationError.field(['input', 'contactId'], 'this contact has no email address');
      return send(herald, campaign, contactId, null);
    case 'IN_APP':
      // Shown to the contact the next time they are on the site, like the real thing.
      return send(herald, campaign, contactId, null);
    case 'WEBHOOK':
      // A webhook needs no address of the contact: it goes to the campaign's URL with their data.
      return send(herald, campaign, contactId, null);
    case 'SMS':
      await requireSendable(herald, campaign, ['input', 'campaignId']);
      if (!contact.phone) throw ValidationError.field(['input', 'contactId'], 'this contact has no phone number');
      return send(herald, campaign, contactId, null);
    case 'MOBILE_PUSH':
      await requireSendable(herald, campaign, ['input', 'campaignId']);
      return send(herald, campaign, contactId, null, await newestDevice(herald, contactId));
    default:
      throw ValidationError.field(['input', 'campaignId'], `${campaign.channel} campaigns are not available yet`);
  }
}

/** The push-only test send the API had first: refuses campaigns on other channels. */
export async function sendTestPush(herald: Herald, workspaceId: string, campaignId: string, contactId: string): Promise<Message> {
  const campaign = await getCampaign(herald, workspaceId, campaignId);
  if (campaign.channel !== 'WEB_PUSH') {
    throw ValidationError.field(['input', 'campaignId'], `this campaign's channel is ${campaign.channel}: send its test with sendTestMessage`);
  }
  return sendTestMessage(herald, workspaceId, campaignId, contactId);
}

/** The contact's newest active browser: the one a test push most likely reaches. */
async function newestBrowser(herald: Herald, contactId: string): Promise<string> {
  const subscription = await herald.prisma.pushSubscription.findFirst({
    where: { contactId, status: 'ACTIVE' },
    orderBy: { createdAt: 'desc' },
    select: { id: true },
  });
  if (!subscription) throw ValidationError.field(['input', 'contactId'], 'this contact has no active push subscription');
  return subscription.id;
}

/** The contact's newest active phone. */
async function newestDevice(herald: Herald, contactId: string): Promise<string> {
  const device = await herald.prisma.device.findFirst({ where: { contactId, status: 'ACTIVE' }, orderBy: { createdAt: 'desc' }, select: { id: true } });
  if (!device) throw ValidationError.field(['input', 'contactId'], 'this contact has no active device');
  return device.id;
}

/** Writes the test's ledger row (subscriptionId: the browser for a push; deviceId: the phone for a mobile push) and sends it. */
async function send(herald: Herald, campaign: Campaign, contactId: string, subscriptionId: string | null, deviceId: string | null = null): Promise<Message> {
  const now = new Date();
  const { id } = await herald.prisma.message.create({
    data: {
      workspaceId: campaign.workspaceId,
      campaignId: campaign.id,
      contactId,
      subscriptionId,
      deviceId,
      channel: campaign.channel,
      occurrence: `test:${uuidv7()}`,
      test: true,
      scheduledFor: now,
      dueAt: now,
    },
  });
  await sendNow(herald, campaign, id);
  return herald.prisma.message.findUniqueOrThrow({ where: { id } });
}
