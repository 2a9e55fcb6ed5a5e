import type { Prisma } from '../../db/prisma.ts';
import type { Herald } from '../../herald-context.ts';
import { sealPlainHeaders, type WebhookHeaders } from './headers.ts';

/**
 * Run at start beside sealWorkspaceSecrets: webhook header values an older Herald stored in plain
 * text (campaigns' content and variants, journeys' drafts and published steps) are sealed, so no
 * tenant credential stays readable at rest. Each row is one conditional UPDATE (still as read).
 */
export async function sealStoredWebhookHeaders(herald: Herald): Promise<{ changed: number }> {
  let changed = 0;
  const campaigns = await herald.prisma.campaign.findMany({ where: { channel: 'WEBHOOK' }, select: { id: true, workspaceId: true, content: true, variants: true } });
  for (const campaign of campaigns) {
    const seal = (headers: WebhookHeaders | null | undefined) => sealPlainHeaders(herald.secrets, campaign.workspaceId, headers);
    const content = withHeaders(campaign.content, seal);
    const variants = Array.isArray(campaign.variants) ? mapChanged(campaign.variants, (variant) => withHeaders((variant as { content?: unknown }).content, seal), 'content') : null;
    if (!content && !variants) continue;
    const { count } = await herald.prisma.campaign.updateMany({
      where: { id: campaign.id, content: { equals: campaign.content! } },
      data: { ...(content && { content }), ...(variants && { variants }) },
    });
    changed += count;
  }
  const journeys = await herald.prisma.journey.findMany({ select: { id: true, workspaceId: true, draft: true, versions: { select: { version: true, definition: true } } } });
  for (const journey of journeys) {
    const seal = (headers: WebhookHeaders | null | undefined) => sealPlainHeaders(herald.secrets, journey.workspaceId, headers);
    const steps = (json: unknown, field: 'send' | 'message') =>
      Array.isArray((json as { steps?: unknown })?.steps)
        ? mapChanged((json as { steps: unknown[] }).steps, (step) => withHeaders((step as Record<string, { webhook?: unknown }>)[field]?.webhook, seal), field, 'webhook')
        : null;
    const draftSteps = steps(journey.draft, 'send');
    if (draftSteps) changed += (await herald.prisma.journey.updateMany({ where: { id: journey.id, draft: { equals: journey.draft! } }, data: { draft: { ...(journey.draft as object), steps: draftSteps } } })).count;
    for (const version of journey.versions) {
      const versionSteps = steps(version.definition, 'message');
      if (!versionSteps) continue;
      const definition = { ...(version.definition as object), steps: versionSteps } as Prisma.InputJsonObject;
      changed += (await herald.prisma.journeyVersion.updateMany({ where: { journeyId: journey.id, version: version.version }, data: { definition } })).count;
    }
  }
  if (changed) herald.log.info({ changed }, 'webhook header values an older Herald stored in plain text are now sealed');
  return { changed };
}

/** `json` (an object with `headers`) with them sealed, or null when nothing was plain. */
function withHeaders(json: unknown, seal: (headers: WebhookHeaders | null | undefined) => Record<string, string> | null): Prisma.InputJsonObject | null {
  if (!json || typeof json !== 'object') return null;
  const headers = seal((json as { headers?: WebhookHeaders }).headers);
  return headers ? ({ ...json, headers } as Prisma.InputJsonObject) : null;
}

/** `items` with each changed one's `path` replaced by what `change` made, or null when none changed. */
function mapChanged(items: unknown[], change: (item: unknown) => Prisma.InputJsonObject | null, ...path: string[]): Prisma.InputJsonArray | null {
  let any = false;
  const mapped = items.map((item) => {
    const next = change(item);
    if (!next) return item;
    any = true;
    return setIn(item as Record<string, unknown>, path, next);
  });
  return any ? (mapped as Prisma.InputJsonArray) : null;
}

function setIn(object: Record<string, unknown>, [key, ...rest]: string[], value: unknown): Record<string, unknown> {
  return { ...object, [key!]: rest.length ? setIn(object[key!] as Record<string, unknown>, rest, value) : value };
}
