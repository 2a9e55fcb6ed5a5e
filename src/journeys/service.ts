import { Prisma } from '../db/prisma.ts';
import { ConflictError, ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Journey } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { journeyCampaignData } from '../campaigns/service.ts';
import { CONTENT_FIELD } from '../campaigns/validation.ts';
import { keptHeaders, sealedHeaders, type WebhookHeaders } from '../delivery/webhook/headers.ts';
import { type JourneyDefinition, type JourneyStatus, parseJourney, type SendStep } from './definition.ts';

export type { Journey };

/**
 * Journeys as the API edits them: a draft (the JourneyInput as last saved, checked whole) that
 * publishing freezes into the next JourneyVersion, with one JOURNEY campaign per send step and
 * channel. Each lifecycle move is one conditional UPDATE; the journey's campaigns follow its status.
 */

export async function createJourney(herald: Herald, workspaceId: string, input: Record<string, unknown>): Promise<Journey> {
  const definition = await checked(herald, workspaceId, input);
  return herald.prisma.journey.create({ data: { workspaceId, name: definition.name, draft: sealed(herald, workspaceId, input) as Prisma.InputJsonObject } });
}

/** Edits the draft (fields left out keep their values); a published journey changes when published again. */
export async function updateJourney(herald: Herald, workspaceId: string, id: string, changes: Record<string, unknown>): Promise<Journey> {
  const journey = await getJourney(herald, workspaceId, id);
  if (journey.status === 'ARCHIVED') throw illegal(journey.status, 'edited');
  const stored = journey.draft as Record<string, unknown>;
  const draft = withStepHeaders({ ...stored, ...changes }, (headers, key) => keptHeaders(headers, stepHeaders(stored, key)));
  const definition = await checked(herald, workspaceId, draft);
  const { count } = await herald.prisma.journey.updateMany({
    where: { id, workspaceId, status: { not: 'ARCHIVED' } },
    data: { name: definition.name, draft: sealed(herald, workspaceId, draft) as Prisma.InputJsonObject },
  });
  if (count === 0) throw illegal('ARCHIVED', 'edited');
  return getJourney(herald, workspaceId, id);
}

/**
 * Freezes the draft as the next version, with its send steps' campaigns, and lets contacts enter
 * it (DRAFT becomes ACTIVE; a PAUSED journey stays paused). Contacts in flight stay on theirs.
 */
export async function publishJourney(herald: Herald, workspaceId: string, id: string): Promise<Journey> {
  const journey = await getJourney(herald, workspaceId, id);
  if (journey.status === 'ARCHIVED') throw illegal(journey.status, 'published');
  const definition = await checked(herald, workspaceId, journey.draft as Record<string, unknown>);
  const campaigns = await stepCampaigns(herald, workspaceId, definition, ['input', 'id']);
  const status = journey.status === 'PAUSED' ? 'PAUSED' : 'ACTIVE';
  const version = journey.version + 1;
  await herald.prisma.$transaction(async (tx) => {
    // Only from the version read: two publishes at once make one version each, in turn.
    const { count } = await tx.journey.updateMany({ where: { id, version: journey.version, status: { not: 'ARCHIVED' } }, data: { version, status } });
    if (count === 0) throw new ConflictError('The journey changed meanwhile; publish again', ErrorCode.journeyIllegalTransition);
    await tx.journeyVersion.create({
      data: {
        journeyId: id,
        version,
        definition: definition as unknown as Prisma.InputJsonObject,
        entryEvent: definition.entry.kind === 'event' ? definition.entry.name : null,
        exitEvents: definition.exitEvents,
        waitEvents: [...new Set(definition.steps.flatMap((step) => (step.kind === 'waitForEvent' ? [step.name] : [])))],
        goalEvent: definition.goal?.event ?? null,
        goalWithinSeconds: definition.goal?.withinSeconds ?? null,
      },
    });
    for (const campaign of campaigns) {
      await tx.campaign.create({ data: { ...campaign.data, workspaceId, journeyId: id, journeyVersion: version, journeyStep: campaign.step, status, startedAt: new Date() } });
    }
  });
  herald.events.publish('journey:changed', id, { reason: 'published' });
  return getJourney(herald, workspaceId, id);
}

/** No step advances while paused; waits keep their times and run late on resume. */
export function pauseJourney(herald: Herald, workspaceId: string, id: string): Promise<Journey> {
  return move(herald, workspaceId, id, ['ACTIVE'], 'PAUSED', 'paused');
}

export async function resumeJourney(herald: Herald, workspaceId: string, id: string): Promise<Journey> {
  const journey = await move(herald, workspaceId, id, ['PAUSED'], 'ACTIVE', 'resumed');
  herald.events.publish('journeys:due');
  return journey;
}

/** Stops the journey for good: nobody enters, nothing advances, its waiting messages stay unsent. */
export function archiveJourney(herald: Herald, workspaceId: string, id: string): Promise<Journey> {
  return move(herald, workspaceId, id, ['DRAFT', 'ACTIVE', 'PAUSED'], 'ARCHIVED', 'archived');
}

async function move(herald: Herald, workspaceId: string, id: string, from: JourneyStatus[], to: JourneyStatus, action: string): Promise<Journey> {
  const journey = await getJourney(herald, workspaceId, id);
  if (!from.includes(journey.status)) throw illegal(journey.status, action, from);
  const moved = await herald.prisma.$transaction(async (tx) => {
    const { count } = await tx.journey.updateMany({ where: { id, status: { in: from } }, data: { status: to } });
    if (count === 0) return false;
    await tx.campaign.updateMany({ where: { journeyId: id }, data: { status: to === 'ARCHIVED' ? 'ARCHIVED' : to } });
    return true;
  });
  if (!moved) throw illegal((await getJourney(herald, workspaceId, id)).status, action, from);
  herald.events.publish('journey:changed', id, { reason: action });
  // Messages queued while the journey was paused go out when it resumes.
  if (to === 'ACTIVE') {
    const campaigns = await herald.prisma.campaign.findMany({ where: { journeyId: id }, select: { id: true } });
    for (const campaign of campaigns) herald.events.publish('delivery:due', { campaignId: campaign.id });
  }
  return getJourney(herald, workspaceId, id);
}

export async function getJourney(herald: Herald, workspaceId: string, id: string): Promise<Journey> {
  const journey = await herald.prisma.journey.findFirst({ where: { id, workspaceId } });
  if (!journey) throw new NotFoundError(ErrorCode.journeyNotFound, 'No journey with this id');
  return journey;
}

function illegal(status: JourneyStatus, action: string, allowed: readonly JourneyStatus[] = []) {
  const hint = allowed.length ? ` (only ${allowed.join(', ')})` : '';
  return new ConflictError(`A ${status} journey cannot be ${action}${hint}`, ErrorCode.journeyIllegalTransition);
}

/** The whole input checked: the definition, its segments, and every send step's content as campaigns check it. */
async function checked(herald: Herald, workspaceId: string, input: Record<string, unknown>): Promise<JourneyDefinition> {
  const definition = parseJourney(input);
  const segments = [
    { id: definition.audience?.segmentId, path: ['input', 'audience', 'segmentId'] },
    { id: definition.entry.kind === 'segment' ? definition.entry.segmentId : null, path: ['input', 'entry', 'segment', 'segmentId'] },
  ];
  for (const { id, path } of segments) {
    if (id && !(await herald.prisma.segment.findFirst({ where: { id, workspaceId }, select: { id: true } }))) throw ValidationError.field(path, 'no segment with this id');
  }
  await stepCampaigns(herald, workspaceId, definition);
  return definition;
}

/**
 * The JOURNEY campaign of each send step and channel, checked by campaigns exactly as a campaign
 * on that channel; a problem points at the step's field (`input.steps.<i>.send.<field>`).
 */
async function stepCampaigns(herald: Herald, workspaceId: string, definition: JourneyDefinition, errorPath?: string[]) {
  const campaigns = [];
  for (const [index, step] of definition.steps.entries()) {
    if (step.kind !== 'send') continue;
    for (const channel of [step.channel, ...step.fallback]) {
      try {
        campaigns.push({ step: step.key, data: await journeyCampaignData(herald, workspaceId, campaignInput(definition, step, channel)) });
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        const at = ['input', 'steps', String(index), 'send'];
        throw new ValidationError(
          error.fieldErrors.map((fieldError) => ({ ...fieldError, path: errorPath ?? [...at, ...(fieldError.path[1] === 'channel' && channel !== step.channel ? ['fallback'] : fieldError.path.slice(1))] })),
        );
      }
    }
  }
  return campaigns;
}

/**
 * A draft with each send step's webhook headers changed by `change` (headers.ts: their values are
 * write-only). Runs on unchecked input too, so it touches only headers that are an object.
 */
export function withStepHeaders(draft: Record<string, unknown>, change: (headers: WebhookHeaders, key: unknown, index: number) => unknown): Record<string, unknown> {
  if (!Array.isArray(draft.steps)) return draft;
  const steps = draft.steps.map((step: unknown, index) => {
    const headers = headersOf(step);
    if (!headers) return step;
    const { send } = step as { key: unknown; send: { webhook: Record<string, unknown> } };
    return { ...(step as object), send: { ...send, webhook: { ...send.webhook, headers: change(headers, (step as { key: unknown }).key, index) } } };
  });
  return { ...draft, steps };
}

function headersOf(step: unknown): WebhookHeaders | null {
  const headers = (step as { send?: { webhook?: { headers?: unknown } } } | null)?.send?.webhook?.headers;
  return headers && typeof headers === 'object' && !Array.isArray(headers) ? (headers as WebhookHeaders) : null;
}

function stepHeaders(draft: Record<string, unknown>, key: unknown): WebhookHeaders | null {
  return headersOf(Array.isArray(draft.steps) ? draft.steps.find((step: unknown) => (step as { key?: unknown } | null)?.key === key) : null);
}

/** A checked draft as stored: its header values sealed. */
function sealed(herald: Herald, workspaceId: string, draft: Record<string, unknown>): Record<string, unknown> {
  return withStepHeaders(draft, (headers, _key, index) => sealedHeaders(herald.secrets, workspaceId, headers, null, ['input', 'steps', String(index), 'send', 'webhook', 'headers']));
}

function campaignInput(definition: JourneyDefinition, step: SendStep, channel: SendStep['channel']) {
  const field = (CONTENT_FIELD as Partial<Record<string, string>>)[channel];
  return {
    name: `${definition.name.slice(0, 150)} / ${step.key} / ${channel}`,
    channel,
    ...(field ? { [field]: step.message[field] } : {}),
    deliveryWindow: definition.deliveryWindow,
    frequencyCapped: definition.frequencyCapped,
    // The goal counts conversions on the journey's messages too (engagement CONVERTED reads them).
    conversion: definition.goal ? { event: definition.goal.event, withinSeconds: Math.min(Math.max(definition.goal.withinSeconds, 60), 90 * 24 * 3600) } : null,
  };
}
