import type { SmsContent } from '../delivery/sms/content.ts';
import { countSegments } from '../delivery/sms/segments.ts';
import { worstCase } from '../delivery/sms/content.ts';
import { builder } from '../graphql/builder.ts';

/** The input and output shapes of an SMS campaign's content (CampaignInput.sms, Campaign.sms). */

export const SmsInput = builder.inputType('CampaignSmsInput', {
  description:
    'An SMS. body is a Liquid template over `contact` and `event`, plain text; its worst case (each {{ … }} as 64 characters, or N with | truncate: N) must fit the workspace’s maxSegments.',
  fields: (t) => ({ body: t.string({ required: true }) }),
});

export const SmsRef = builder.objectRef<SmsContent>('CampaignSms').implement({
  description: 'The SMS an SMS campaign sends, as written.',
  fields: (t) => ({
    body: t.exposeString('body'),
    segments: t.int({ description: 'Segments of the body as written, without rendering it.', resolve: (sms) => countSegments(sms.body).segments }),
    worstCaseSegments: t.int({ description: 'The most segments a rendered message may take, as checked at save.', resolve: (sms) => worstCase(sms.body).segments }),
  }),
});
