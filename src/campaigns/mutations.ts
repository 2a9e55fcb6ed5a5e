import { ErrorCode, ValidationError } from '../errors.ts';
import { MessageRef } from '../delivery/schema.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { localId, requireLocalId } from '../graphql/ids.ts';
import { CampaignInput, UpdateCampaignInput } from './inputs.ts';
import { activateCampaign, archiveCampaign, cancelCampaign, pauseCampaign, resumeCampaign, scheduleCampaign, sendCampaignNow } from './lifecycle.ts';
import { CampaignRef } from './schema.ts';
import { createCampaign, duplicateCampaign, updateCampaign } from './service.ts';
import { sendTestMessage, sendTestPush } from './test-push.ts';
import type { CampaignInput as CampaignInputShape } from './validation.ts';

const campaignId = (id: string | number) => requireLocalId(String(id), 'Campaign', ErrorCode.campaignNotFound);

/** GraphQL hands absent fields over as null; the audience's segment id arrives global. */
function serviceInput<T extends { audience?: { segmentId?: string | number | null } | null }>(input: T): Partial<CampaignInputShape> {
  const entries = Object.entries(input).filter(([key, value]) => value !== null && key !== 'id');
  const result = Object.fromEntries(entries) as Partial<CampaignInputShape> & { audience?: { segmentId?: string | null } };
  const segmentId = input.audience?.segmentId;
  if (segmentId != null) {
    const id = localId(String(segmentId), 'Segment');
    if (!id) throw ValidationError.field(['input', 'audience', 'segmentId'], 'no segment with this id');
    result.audience = { ...input.audience, segmentId: id } as never;
  }
  return result;
}

/** The lifecycle mutations all take `{ id }` and answer the Campaign. */
const lifecycle = {
  sendCampaignNow,
  activateCampaign,
  pauseCampaign,
  resumeCampaign,
  cancelCampaign,
  archiveCampaign,
  duplicateCampaign,
} as const;

builder.mutationFields((t) => ({
  createCampaign: t.field({
    type: CampaignRef,
    args: { input: t.arg({ type: CampaignInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => createCampaign(context.herald, workspaceIdOf(context), serviceInput(input) as CampaignInputShape),
  }),
  updateCampaign: t.field({
    type: CampaignRef,
    description: 'Only while DRAFT or SCHEDULED.',
    args: { input: t.arg({ type: UpdateCampaignInput, required: true }) },
    errors: {},
    resolve: (_root, { input }, context) => updateCampaign(context.herald, workspaceIdOf(context), campaignId(input.id), serviceInput(input)),
  }),
  scheduleCampaign: t.fieldWithInput({
    type: CampaignRef,
    description: "Sends at sendAt, or with localTime at sendAt's wall-clock time (in the workspace's zone) in each recipient's own zone.",
    input: {
      id: t.input.id({ required: true }),
      sendAt: t.input.field({ type: 'DateTime', required: true }),
      localTime: t.input.boolean({ defaultValue: false }),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      scheduleCampaign(context.herald, workspaceIdOf(context), { id: campaignId(input.id), sendAt: input.sendAt, localTime: input.localTime }),
  }),
  ...Object.fromEntries(
    Object.entries(lifecycle).map(([name, run]) => [
      name,
      t.fieldWithInput({
        type: CampaignRef,
        input: { id: t.input.id({ required: true }) },
        errors: {},
        resolve: (_root, { input }, context) => run(context.herald, workspaceIdOf(context), campaignId(input.id)),
      }),
    ]),
  ),
  sendTestMessage: t.fieldWithInput({
    type: MessageRef,
    description: "Sends the campaign's message to one contact now on its channel (a push to their newest browser, an email to their address); kept out of the stats.",
    input: { campaignId: t.input.id({ required: true }), contactId: t.input.id({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      sendTestMessage(
        context.herald,
        workspaceIdOf(context),
        campaignId(input.campaignId),
        requireLocalId(String(input.contactId), 'Contact', ErrorCode.contactNotFound),
      ),
  }),
  sendTestPush: t.fieldWithInput({
    type: MessageRef,
    description: "Sends the campaign's push to one contact's newest browser now; kept out of the stats.",
    input: { campaignId: t.input.id({ required: true }), contactId: t.input.id({ required: true }) },
    errors: {},
    resolve: (_root, { input }, context) =>
      sendTestPush(
        context.herald,
        workspaceIdOf(context),
        campaignId(input.campaignId),
        requireLocalId(String(input.contactId), 'Contact', ErrorCode.contactNotFound),
      ),
  }),
}));
