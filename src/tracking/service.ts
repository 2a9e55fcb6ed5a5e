import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { publishDeliveryEvents } from '../delivery/events.ts';
import { secretFromRow } from '../workspaces/secrets.ts';
import { tokenMessageId, verifyToken } from '../delivery/tokens.ts';

export const MessageEventTypes = ['DISPLAYED', 'CLICKED', 'CLOSED'] as const;
export type MessageEventType = (typeof MessageEventTypes)[number];

/** One error for every bad token, so a caller learns nothing from which check failed. */
const invalidToken = () => new NotFoundError(ErrorCode.messageNotFound, 'Unknown or invalid message token');

/**
 * Records what a browser did with a push: DISPLAYED, CLICKED (which implies displayed) or CLOSED,
 * each counted once per message (the first time is kept). A token that does not parse, whose MAC
 * does not match, or that belongs to another workspace than `workspaceId` changes nothing.
 */
export async function recordMessageEvent(
  herald: Herald,
  input: { token: string; type: MessageEventType },
  workspaceId?: string,
): Promise<Message> {
  if (!(MessageEventTypes as readonly string[]).includes(input.type)) throw ValidationError.field(['input', 'type'], 'must be DISPLAYED, CLICKED or CLOSED');
  const id = typeof input.token === 'string' ? tokenMessageId(input.token) : null;
  if (!id) throw invalidToken();
  const found = await herald.prisma.message.findUnique({
    where: { id },
    select: { workspaceId: true, campaignId: true, campaign: { select: { workspace: { select: { trackingSecret: true } } } } },
  });
  if (!found) throw invalidToken();
  // Opened values are cached by herald.secrets: the hot path costs the one query above.
  const secret = await secretFromRow(herald, { id: found.workspaceId, ...found.campaign.workspace }, 'trackingSecret');
  if (!verifyToken(input.token, id, secret)) throw invalidToken();
  if (workspaceId && found.workspaceId !== workspaceId) throw invalidToken();

  const displayed = input.type === 'DISPLAYED' || input.type === 'CLICKED';
  const clicked = input.type === 'CLICKED';
  const closed = input.type === 'CLOSED';
  // One statement: set each first time, and count only the ones that were not set before.
  const [changed] = await herald.prisma.$queryRaw<{ displayed: boolean; clicked: boolean; closed: boolean; test: boolean; contactId: string }[]>`
    WITH old AS (
      SELECT id, "displayedAt", "clickedAt", "closedAt" FROM "Message" WHERE id = ${id}::uuid FOR UPDATE
    ), updated AS (
      UPDATE "Message" m SET
        "displayedAt" = COALESCE(m."displayedAt", CASE WHEN ${displayed} THEN now() END),
        "clickedAt" = COALESCE(m."clickedAt", CASE WHEN ${clicked} THEN now() END),
        "closedAt" = COALESCE(m."closedAt", CASE WHEN ${closed} THEN now() END),
        "updatedAt" = now()
      FROM old WHERE m.id = old.id
      RETURNING m."campaignId", m.test, m."contactId"::text,
        (old."displayedAt" IS NULL AND m."displayedAt" IS NOT NULL) AS displayed,
        (old."clickedAt" IS NULL AND m."clickedAt" IS NOT NULL) AS clicked,
        (old."closedAt" IS NULL AND m."closedAt" IS NOT NULL) AS closed
    ), counted AS (
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT "campaignId", metric, 1 FROM updated,
        LATERAL (VALUES ('displayed', displayed), ('clicked', clicked), ('closed', closed)) AS metrics(metric, happened)
      WHERE happened AND NOT test
      ON CONFLICT ("campaignId", metric) DO UPDATE SET count = "CampaignCount".count + 1
    )
    SELECT displayed, clicked, closed, test, "contactId" FROM updated`;

  if (changed && (changed.displayed || changed.clicked || changed.closed)) {
    herald.events.publish('campaign:changed', found.campaignId, { reason: 'tracked' });
    const types = [changed.displayed && 'DISPLAYED', changed.clicked && 'CLICKED', changed.closed && 'CLOSED'].filter(Boolean) as MessageEventType[];
    publishDeliveryEvents(
      herald,
      found.workspaceId,
      types.map((type) => ({ type, messageId: id, campaignId: found.campaignId, contactId: changed.contactId, reason: null })),
    );
  }
  return herald.prisma.message.findUniqueOrThrow({ where: { id } });
}
