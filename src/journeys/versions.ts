import type { Prisma } from '../db/prisma.ts';
import type { SqlTx } from '../db/sql-transaction.ts';
import type { Channel } from '../generated/prisma/enums.ts';
import type { JourneyDefinition } from './definition.ts';

/**
 * Published versions never change, nor do the campaigns publishing made for their send steps: the
 * engine reads each once per process. Bounded, oldest dropped first.
 */
const MAX_CACHED = 1_000;
const definitions = new Map<string, JourneyDefinition>();
const stepCampaigns = new Map<string, Map<Channel, { id: string; frequencyCapped: boolean }>>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

export async function definitionOf(db: SqlTx, journeyId: string, version: number): Promise<JourneyDefinition> {
  const key = `${journeyId}:${version}`;
  const known = definitions.get(key);
  if (known) return known;
  // Raw, so that a batch of events on a pg connection of its own (db/sql-transaction.ts) reads it too.
  const [row] = await db.$queryRaw<{ definition: unknown }[]>`
    SELECT definition FROM "JourneyVersion" WHERE "journeyId" = ${journeyId}::uuid AND version = ${version}::int`;
  if (!row) throw new Error(`journey ${journeyId} has no version ${version}`);
  return remember(definitions, key, row.definition as unknown as JourneyDefinition);
}

/**
 * definitionOf for many (journey, version) pairs, keyed `journeyId:version`: those not yet read
 * come in one query (a page of the journey list reads its figures together).
 */
export async function definitionsOf(db: Prisma.TransactionClient, wanted: { journeyId: string; version: number }[]): Promise<Map<string, JourneyDefinition>> {
  const found = new Map<string, JourneyDefinition>();
  const missing: { journeyId: string; version: number }[] = [];
  for (const { journeyId, version } of wanted) {
    const known = definitions.get(`${journeyId}:${version}`);
    if (known) found.set(`${journeyId}:${version}`, known);
    else missing.push({ journeyId, version });
  }
  if (missing.length === 0) return found;
  const rows = await db.journeyVersion.findMany({ where: { OR: missing }, select: { journeyId: true, version: true, definition: true } });
  for (const row of rows) found.set(`${row.journeyId}:${row.version}`, remember(definitions, `${row.journeyId}:${row.version}`, row.definition as unknown as JourneyDefinition));
  return found;
}

/** A send step's JOURNEY campaigns, by channel. */
export async function stepCampaignsOf(tx: Prisma.TransactionClient, journeyId: string, version: number, step: string) {
  const key = `${journeyId}:${version}:${step}`;
  const known = stepCampaigns.get(key);
  if (known) return known;
  const rows = await tx.campaign.findMany({ where: { journeyId, journeyVersion: version, journeyStep: step }, select: { id: true, channel: true, frequencyCapped: true } });
  return remember(stepCampaigns, key, new Map(rows.map((row) => [row.channel, { id: row.id, frequencyCapped: row.frequencyCapped }])));
}
