import { type SmsContent, WORST_CASE_OUTPUT_CHARS, worstCase } from '../delivery/sms/content.ts';
import { ValidationError } from '../errors.ts';
import type { Campaign } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { maxSegmentsOf } from '../workspaces/sms-settings.ts';

/** An SMS body's worst case (see worstCase) must fit the workspace's maxSegments (default 3). */
export async function checkedSms(herald: Herald, workspaceId: string, content: SmsContent, path: string[] = ['input', 'sms']): Promise<SmsContent> {
  const workspace = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { smsSettings: true } });
  const maxSegments = maxSegmentsOf(workspace);
  const worst = worstCase(content.body);
  if (worst.segments > maxSegments) {
    throw ValidationError.field(
      [...path, 'body'],
      `the SMS could take ${worst.segments} segments (${worst.encoding}, ${worst.units} ${worst.encoding === 'GSM-7' ? 'septets' : 'UTF-16 units'}, each {{ … }} counted as ${WORST_CASE_OUTPUT_CHARS} characters unless it ends in | truncate: N); the workspace allows ${maxSegments} (settings.sms.maxSegments)`,
    );
  }
  return { body: content.body };
}

/** The SMS an SMS campaign sends, as saved; null for other channels. */
export function smsOf(campaign: Campaign): SmsContent | null {
  return campaign.channel === 'SMS' ? (campaign.content as SmsContent) : null;
}
