import { encodeGlobalID } from '@pothos/plugin-relay';
import { clickUrl, messageIdHeader, openPixelUrl, unsubscribeUrl, verpAddress } from '../../src/delivery/email/links.ts';
import { signToken } from '../../src/delivery/tokens.ts';
import { localId } from '../../src/graphql/ids.ts';
import { secretFromRow } from '../../src/workspaces/secrets.ts';
import type { TestHerald } from '../kit/herald.ts';

export const MAIL_DOMAIN = 'mail.shop.example';

/**
 * An EMAIL campaign whose messages were sent, written straight into the ledger (the email sender
 * is built alongside this), with the counters a real send leaves (`targeted`, `status:SENT`) and,
 * for each message, the addresses its email carries, signed with the workspace's tracking secret.
 */
export async function sentEmailCampaign(
  kit: TestHerald,
  workspaceGlobalId: string,
  recipients: { externalId: string; sentSecondsAgo?: number; emailStatus?: 'NONE' | 'SUBSCRIBED' }[],
  options: { conversion?: { event: string; withinSeconds: number } } = {},
) {
  const { prisma } = kit.herald;
  const workspaceId = localId(workspaceGlobalId, 'Workspace')!;
  const campaign = await prisma.campaign.create({
    data: {
      workspaceId,
      name: 'Autumn sale',
      kind: 'BROADCAST',
      status: 'SENT',
      channel: 'EMAIL',
      content: { subject: 'Autumn sale', html: '<p>Hello</p>' },
      conversion: options.conversion,
      preparedAt: new Date(),
      startedAt: new Date(),
      completedAt: new Date(),
    },
  });
  const workspace = await prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });
  const secret = await secretFromRow(kit.herald, workspace, 'trackingSecret');
  const messages = [];
  for (const recipient of recipients) {
    const contact = await prisma.contact.create({
      data: { workspaceId, externalId: recipient.externalId, email: `${recipient.externalId}@example.net`, identified: true, emailStatus: recipient.emailStatus ?? 'SUBSCRIBED' },
    });
    const sentAt = new Date(Date.now() - (recipient.sentSecondsAgo ?? 3600) * 1000);
    const message = await prisma.message.create({
      data: {
        workspaceId,
        campaignId: campaign.id,
        contactId: contact.id,
        occurrence: 'broadcast',
        channel: 'EMAIL',
        status: 'SENT',
        reason: 'ACCEPTED',
        scheduledFor: sentAt,
        dueAt: sentAt,
        attempts: 1,
        sentAt,
      },
    });
    const token = signToken(message.id, secret);
    messages.push({
      id: message.id,
      globalId: encodeGlobalID('Message', message.id),
      contactId: contact.id,
      token,
      pixel: openPixelUrl(kit.url, token),
      link: (target: string) => clickUrl(kit.url, token, target, secret),
      unsubscribe: unsubscribeUrl(kit.url, token),
      verp: verpAddress(message.id, secret, MAIL_DOMAIN),
      messageIdHeader: messageIdHeader(message.id, MAIL_DOMAIN),
    });
  }
  await prisma.campaignCount.createMany({
    data: [
      { campaignId: campaign.id, metric: 'targeted', count: recipients.length },
      { campaignId: campaign.id, metric: 'status:SENT', count: recipients.length },
    ],
  });
  return { id: campaign.id, globalId: encodeGlobalID('Campaign', campaign.id), secret, messages };
}

/** The ledger row and its contact, as the tests check them. */
export async function ledgerRow(kit: TestHerald, messageId: string) {
  return kit.herald.prisma.message.findUniqueOrThrow({
    where: { id: messageId },
    include: { contact: { select: { emailStatus: true, emailStatusAt: true, emailStatusSource: true } } },
  });
}
