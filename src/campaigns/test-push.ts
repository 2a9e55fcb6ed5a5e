import { v7 as uuidv7 } from 'uuid';
import { sendNow } from '../delivery/deliver.ts';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { getCampaign } from './service.ts';

/**
 * Sends a campaign's push to one contact's newest browser now, whatever the campaign's status,
 * and answers the ledger row in its final state. Test rows are kept out of the campaign's stats
 * and are never retried: the marketer is looking at the result.
 */
export async function sendTestPush(herald: Herald, workspaceId: string, campaignId: string, contactId: string): Promise<Message> {
  const campaign = await getCampaign(herald, workspaceId, campaignId);
  const contact = await herald.prisma.contact.findFirst({ where: { id: contactId, workspaceId }, select: { id: true } });
  if (!contact) throw new NotFoundError(ErrorCode.contactNotFound, 'No contact with this id');
  const subscription = await herald.prisma.pushSubscription.findFirst({
    where: { contactId, status: 'ACTIVE' },
    orderBy: { createdAt: 'desc' },
    select: { id: true },
  });
  if (!subscription) throw ValidationError.field(['input', 'contactId'], 'this contact has no active push subscription');

  const now = new Date();
  const { id } = await herald.prisma.message.create({
    data: { workspaceId, campaignId, contactId, subscriptionId: subscription.id, occurrence: `test:${uuidv7()}`, test: true, scheduledFor: now, dueAt: now },
  });
  await sendNow(herald, campaign, id);
  return herald.prisma.message.findUniqueOrThrow({ where: { id } });
}
