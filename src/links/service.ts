import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { Prisma } from '../db/prisma.ts';
import { LINK_PATH } from '../delivery/short-links.ts';
import { tokenMessageId, verifyToken } from '../delivery/tokens.ts';
import { fromZodIssues } from '../errors.ts';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Link } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { linkSettingsOf } from '../workspaces/link-settings.ts';
import { secretFromRow } from '../workspaces/secrets.ts';
import { trackEvent } from '../tracking/events.ts';
import { type Device, type LinkInput, linkInput, type Targets, targetFor } from './targets.ts';

export type { Link };

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CODE_LENGTH = 8;

/**
 * A short link's code: 8 base62 characters from the system's CSPRNG (~47.6 bits), so codes cannot
 * be walked to find other workspaces' links. Bytes ≥ 248 are skipped, keeping every character
 * equally likely.
 */
export function newCode(): string {
  let code = '';
  while (code.length < CODE_LENGTH) {
    for (const byte of randomBytes(CODE_LENGTH * 2)) {
      if (byte < 248 && code.length < CODE_LENGTH) code += BASE62[byte % 62];
    }
  }
  return code;
}

/** Where a link is followed: under HERALD_PUBLIC_URL, like the tracking and unsubscribe addresses. */
export function shortUrlOf(herald: Pick<Herald, 'publicUrl'>, link: Pick<Link, 'code'>): string {
  return `${herald.publicUrl}${LINK_PATH}${link.code}`;
}

/**
 * Validates every target against the workspace's registered app schemes, then stores the link
 * under a fresh code (a clash, about one in 10^14 per existing link, draws again). A bad input
 * stores nothing.
 */
export async function createLink(herald: Herald, workspaceId: string, input: LinkInput): Promise<Link> {
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { linkSettings: true } });
  const parsed = linkInput(linkSettingsOf(workspace).appSchemes).safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { url, ios, android, fallback, utm } = parsed.data;
  for (let attempt = 1; ; attempt++) {
    try {
      return await herald.prisma.link.create({
        data: { workspaceId, code: newCode(), url, ios: ios ?? null, android: android ?? null, fallback: fallback ?? null, utm: utm as Prisma.InputJsonObject },
      });
    } catch (error) {
      const clash = error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
      if (!clash || attempt === 3) throw error;
    }
  }
}

export function linkByCode(herald: Herald, code: string): Promise<Link | null> {
  return herald.prisma.link.findUnique({ where: { code } });
}

/** The event a person's click on a smart link in a message stores for the message's contact. */
export const LINK_CLICKED_EVENT = 'link_clicked';

interface ClickedMessage {
  id: string;
  contactId: string;
  campaignId: string;
}

/** The contact and message a click names: only a valid token of a message of the link's own workspace. */
async function messageOfToken(herald: Herald, workspaceId: string, token: string | null): Promise<ClickedMessage | null> {
  const id = token ? tokenMessageId(token) : null;
  if (!id) return null;
  const message = await herald.prisma.message.findFirst({
    where: { id, workspaceId },
    select: { id: true, contactId: true, campaignId: true, campaign: { select: { workspace: { select: { trackingSecret: true } } } } },
  });
  if (!message) return null;
  const secret = await secretFromRow(herald, { id: workspaceId, ...message.campaign.workspace }, 'trackingSecret');
  return verifyToken(token!, id, secret) ? { id: message.id, contactId: message.contactId, campaignId: message.campaignId } : null;
}

/**
 * Records a person's click: the click row (with the contact and message when `token` is a valid
 * tracking token of the link's workspace; any other token records the click alone) and the
 * link's counters, in one statement. A click that names a contact is then stored as the contact's
 * event `link_clicked` through the normal ingestion path, so triggered campaigns, segments and
 * journeys can act on it (once per click: its idempotency key is the click's id).
 */
export async function recordClick(herald: Herald, link: Pick<Link, 'id' | 'workspaceId' | 'code'> & Targets, click: { device: Device; token: string | null }): Promise<{ contactId: string | null }> {
  const message = await messageOfToken(herald, link.workspaceId, click.token);
  const { device } = click;
  const clickId = uuidv7();
  await herald.prisma.$executeRaw`
    WITH click AS (
      INSERT INTO "LinkClick" (id, "linkId", device, "contactId", "messageId")
      VALUES (${clickId}::uuid, ${link.id}::uuid, ${device}::"LinkDevice", ${message?.contactId ?? null}::uuid, ${message?.id ?? null}::uuid)
      RETURNING "linkId"
    )
    UPDATE "Link" SET
      clicks = clicks + 1,
      "iosClicks" = "iosClicks" + ${device === 'IOS' ? 1 : 0},
      "androidClicks" = "androidClicks" + ${device === 'ANDROID' ? 1 : 0},
      "desktopClicks" = "desktopClicks" + ${device === 'DESKTOP' ? 1 : 0},
      "updatedAt" = now()
    WHERE id = (SELECT "linkId" FROM click)`;
  if (message) {
    await trackEvent(herald, link.workspaceId, {
      contactId: message.contactId,
      name: LINK_CLICKED_EVENT,
      properties: {
        link: link.code,
        url: targetFor(link, device),
        device,
        messageId: encodeGlobalID('Message', message.id),
        campaignId: encodeGlobalID('Campaign', message.campaignId),
      },
      idempotencyKey: `${LINK_CLICKED_EVENT}:${clickId}`,
    });
  }
  return { contactId: message?.contactId ?? null };
}
