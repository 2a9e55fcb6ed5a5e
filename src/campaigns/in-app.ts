import type { InAppContent } from '../delivery/in-app/content.ts';
import { checkedQuestion, type Question } from '../feedback/question.ts';
import type { Campaign } from '../generated/prisma/client.ts';

/**
 * An on-site message as saved: its templates and URLs were checked by inAppContentInput; the
 * question, if any, is checked and normalised here (trimmed, choices only for CHOICE).
 */
export function checkedInApp(content: InAppContent, path: string[] = ['input', 'inApp']): InAppContent {
  const question = content.question ? checkedQuestion(content.question as Question, [...path, 'question']) : null;
  return { ...content, layout: content.layout ?? 'MODAL', question };
}

/** The on-site message an IN_APP campaign shows, as saved; null for other channels. */
export function inAppOf(campaign: Campaign): InAppContent | null {
  return campaign.channel === 'IN_APP' ? (campaign.content as InAppContent) : null;
}
