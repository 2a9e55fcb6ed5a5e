import { v7 as uuidv7 } from 'uuid';
import { Prisma } from '../db/prisma.ts';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { getCampaign } from '../campaigns/service.ts';
import { messageSender, queryDue, settleOutcome } from './deliver.ts';
import { transition } from './ledger.ts';

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
  const [message] = await queryDue(herald, Prisma.sql`m.id = ${id}::uuid`, 1);
  const sender = await messageSender(herald, campaign);
  const prepared = sender.prepare(message!);
  if ('settle' in prepared) {
    await transition(herald, [prepared.settle]);
  } else {
    const [body] = await sender.encrypt([prepared]);
    const request = await sender.open(message!);
    await transition(herald, [{ id, from: 'QUEUED', status: 'SENDING' }]);
    const outcome = await request.send(body!);
    const settled = settleOutcome(herald, message!, outcome, 1);
    if (outcome.kind === 'gone') await herald.prisma.pushSubscription.update({ where: { id: subscription.id }, data: { status: 'EXPIRED' } });
    await transition(herald, [settled]);
  }
  return herald.prisma.message.findUniqueOrThrow({ where: { id } });
}
