import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { Prisma } from '../db/prisma.ts';
import { sqlQuery } from '../db/sql-transaction.ts';
import { publishDeliveryEvents } from '../delivery/events.ts';
import { secretFromRow } from '../workspaces/secrets.ts';
import { tokenMessageId, verifyToken } from '../delivery/tokens.ts';

export const MessageEventTypes = ['DISPLAYED', 'CLICKED', 'CLOSED', 'OPENED'] as const;
export type MessageEventType = (typeof MessageEventTypes)[number];

/** One error for every bad token, so a caller learns nothing from which check failed. */
const invalidToken = () => new NotFoundError(ErrorCode.messageNotFound, 'Unknown or invalid message token');

interface Beacon {
  messageId: string;
  token: string;
  type: MessageEventType;
  /** The caller's workspace (a key's); a beacon to /track has none. */
  workspaceId: string | undefined;
}

/**
 * Records what a browser did with a push: DISPLAYED, CLICKED (which implies displayed) or CLOSED;
 * or what a phone app did with a mobile push: OPENED (the person tapped it, which implies displayed);
 * each counted once per message (the first time is kept). A click is what became of a
 * notification: a CLOSED after it (some desktops close a notification after each click) changes
 * nothing. A token that does not parse, whose MAC does not match, or that belongs to another
 * workspace than `workspaceId` changes nothing.
 * With HERALD_PUBLIC_BATCH_MS, concurrent beacons are written together (db/group-commit.ts).
 */
export async function recordMessageEvent(
  herald: Herald,
  input: { token: string; type: MessageEventType },
  workspaceId?: string,
): Promise<Message> {
  if (!(MessageEventTypes as readonly string[]).includes(input.type)) throw ValidationError.field(['input', 'type'], 'must be DISPLAYED, CLICKED, CLOSED or OPENED');
  const messageId = typeof input.token === 'string' ? tokenMessageId(input.token) : null;
  if (!messageId) throw invalidToken();
  const beacon: Beacon = { messageId, token: input.token, type: input.type, workspaceId };
  const [answer] = herald.gathering.enabled
    ? [await herald.gathering.submit('beacons', messageId, beacon, (beacons: Beacon[]) => recordBeacons(herald, beacons))]
    : await recordBeacons(herald, [beacon]);
  if (answer instanceof Error) throw answer;
  return answer!;
}

/** Beacons in one statement: each answered with its message, or the invalid-token error. */
async function recordBeacons(herald: Herald, beacons: Beacon[]): Promise<(Message | Error)[]> {
  const ids = [...new Set(beacons.map((beacon) => beacon.messageId))];
  // On the pool, not through Prisma (issue #24): a gathered batch of beacons is two statements.
  const options = { preparedStatements: herald.config.HERALD_PREPARED_STATEMENTS };
  const found = await sqlQuery<{ id: string; workspaceId: string; campaignId: string; trackingSecret: string | null }>(
    herald.pool,
    Prisma.sql`
      SELECT m.id::text, m."workspaceId"::text, m."campaignId"::text, w."trackingSecret"
      FROM "Message" m JOIN "Campaign" c ON c.id = m."campaignId" JOIN "Workspace" w ON w.id = c."workspaceId"
      WHERE m.id = ANY(${ids}::uuid[])`,
    options,
  );
  const byId = new Map(found.map((message) => [message.id, message]));
  const valid = await Promise.all(
    beacons.map(async ({ messageId, token, workspaceId }) => {
      const message = byId.get(messageId);
      if (!message || (workspaceId && message.workspaceId !== workspaceId)) return false;
      // Opened values are cached by herald.secrets: no query per beacon.
      const secret = await secretFromRow(herald, { id: message.workspaceId, trackingSecret: message.trackingSecret }, 'trackingSecret');
      return verifyToken(token, messageId, secret);
    }),
  );
  // Several beacons of one message in a batch count as if they came one after the other.
  const flags = new Map<string, { id: string; displayed: boolean; clicked: boolean; closed: boolean; opened: boolean }>();
  beacons.forEach(({ messageId, type }, index) => {
    if (!valid[index]) return;
    const merged = flags.get(messageId) ?? { id: messageId, displayed: false, clicked: false, closed: false, opened: false };
    // A click or an app's open implies the notification was displayed.
    merged.displayed ||= type !== 'CLOSED';
    merged.clicked ||= type === 'CLICKED';
    merged.closed ||= type === 'CLOSED';
    merged.opened ||= type === 'OPENED';
    flags.set(messageId, merged);
  });

  const messages = new Map<string, Message>();
  if (flags.size) {
    // One statement: set each first time, and count only the ones that were not set before; it
    // answers the messages as they are now. Rows and counters are locked in one order (id;
    // campaign, metric): batches never deadlock.
    const changed = await sqlQuery<Message & { displayed: boolean; clicked: boolean; closed: boolean; opened: boolean }>(herald.pool, Prisma.sql`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify([...flags.values()])}::jsonb) AS i(id uuid, displayed boolean, clicked boolean, closed boolean, opened boolean)
      ), old AS (
        SELECT m.id, m."displayedAt", m."clickedAt", m."closedAt", m."openedAt", i.displayed, i.clicked, i.closed, i.opened
        FROM "Message" m JOIN input i ON i.id = m.id ORDER BY m.id FOR UPDATE OF m
      ), updated AS (
        UPDATE "Message" m SET
          "displayedAt" = COALESCE(m."displayedAt", CASE WHEN old.displayed THEN now() END),
          "clickedAt" = COALESCE(m."clickedAt", CASE WHEN old.clicked THEN now() END),
          "closedAt" = COALESCE(m."closedAt", CASE WHEN old.closed AND NOT old.clicked AND m."clickedAt" IS NULL THEN now() END),
          "openedAt" = COALESCE(m."openedAt", CASE WHEN old.opened THEN now() END),
          "updatedAt" = now()
        FROM old WHERE m.id = old.id
        RETURNING m.*,
          (old."displayedAt" IS NULL AND m."displayedAt" IS NOT NULL) AS displayed,
          (old."clickedAt" IS NULL AND m."clickedAt" IS NOT NULL) AS clicked,
          (old."closedAt" IS NULL AND m."closedAt" IS NOT NULL) AS closed,
          (old."openedAt" IS NULL AND m."openedAt" IS NOT NULL) AS opened
      ), counted AS (
        INSERT INTO "CampaignCount" ("campaignId", metric, count)
        SELECT "campaignId", metric, count(*) FROM updated,
          LATERAL (VALUES ('displayed', displayed), ('clicked', clicked), ('closed', closed), ('opened', opened)) AS metrics(metric, happened)
        WHERE happened AND NOT test
        GROUP BY "campaignId", metric ORDER BY "campaignId", metric
        ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + EXCLUDED.count
      )
      SELECT * FROM updated`, options);
    announceBeacons(herald, changed, byId);
    for (const { displayed: _d, clicked: _c, closed: _x, opened: _o, ...message } of changed) messages.set(message.id, message);
  }

  return beacons.map(({ messageId }, index) => (valid[index] ? (messages.get(messageId) ?? invalidToken()) : invalidToken()));
}

function announceBeacons(
  herald: Herald,
  changed: { id: string; displayed: boolean; clicked: boolean; closed: boolean; opened: boolean; contactId: string; test: boolean }[],
  messages: Map<string, { workspaceId: string; campaignId: string }>,
): void {
  const byWorkspace = new Map<string, Parameters<typeof publishDeliveryEvents>[2]>();
  const campaigns = new Set<string>();
  for (const row of changed) {
    // A test push stays out of the live feed, as out of the stats.
    if (row.test) continue;
    const { workspaceId, campaignId } = messages.get(row.id)!;
    // The live feed has no OPENED step (as for email): a first open shows as DISPLAYED.
    const types = [row.displayed && 'DISPLAYED', row.clicked && 'CLICKED', row.closed && 'CLOSED'].filter(Boolean) as Exclude<MessageEventType, 'OPENED'>[];
    if (!types.length && !row.opened) continue;
    campaigns.add(campaignId);
    const events = byWorkspace.get(workspaceId) ?? [];
    events.push(...types.map((type) => ({ type, messageId: row.id, campaignId, contactId: row.contactId, reason: null })));
    byWorkspace.set(workspaceId, events);
  }
  for (const campaignId of campaigns) herald.events.publish('campaign:changed', campaignId, { reason: 'tracked' });
  for (const [workspaceId, events] of byWorkspace) publishDeliveryEvents(herald, workspaceId, events);
}
