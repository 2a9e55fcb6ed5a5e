import { z } from 'zod';
import { emailQuestionInput, storedQuestion } from '../../feedback/content.ts';
import { type CompiledEmail, type CompiledSource, compileEmail, KB } from './compile.ts';

export {
  type CompiledEmail,
  type CompiledSource,
  compileEmail,
  EmailContentError,
  type EmailLinks,
  emailRenderBudget,
  type EmailToSend,
  GMAIL_CLIP_BYTES,
  MAX_RENDERED_SUBJECT,
  type RenderedEmail,
} from './compile.ts';

/**
 * What an email says: subject, preheader, body (MJML or HTML) and text part are Liquid templates
 * over `contact` and `event`, plus `unsubscribe_url`. A campaign's email is compiled once (MJML to
 * HTML, every template parsed) and rendered for each recipient with its links tracked. An email
 * may ask a `question`: its one-tap buttons go where the body writes `{{ question_buttons }}`,
 * else at the end of the body (feedback/email.ts).
 */

const text = (maxChars: number) => z.string().max(maxChars, `must be at most ${maxChars} characters`);
const body = (maxBytes: number) =>
  z
    .string()
    .max(maxBytes, `must be at most ${maxBytes / KB} KB`)
    // Bytes: a character may take up to three (too many characters are reported above).
    .refine((source) => source.length > maxBytes || Buffer.byteLength(source) <= maxBytes, `must be at most ${maxBytes / KB} KB`)
    .refine((source) => source.trim().length > 0, 'must not be empty');

export const emailContentInput = z
  .object({
    subject: text(500).refine((subject) => subject.trim().length > 0, 'must not be empty'),
    preheader: text(500).nullish(),
    mjml: body(512 * KB).nullish(),
    html: body(512 * KB).nullish(),
    text: body(256 * KB).nullish(),
    // A display name goes into the From header: no line breaks or other control characters.
    fromName: text(200)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain line breaks or control characters')
      .nullish(),
    replyTo: z.email('must be an email address').max(254, 'must be at most 254 characters').nullish(),
    question: emailQuestionInput.nullish(),
  })
  .superRefine((content, context) => {
    if (content.mjml != null && content.html != null) context.addIssue({ code: 'custom', path: ['html'], message: 'give either mjml or html, not both' });
    if (content.mjml == null && content.html == null) context.addIssue({ code: 'custom', path: ['mjml'], message: 'give mjml or html' });
  });
export type EmailContent = z.output<typeof emailContentInput>;

/** A saved campaign's email, read back: checked when saved, and again as it compiles. */
const storedEmailContent: z.ZodType<EmailContent & { compiled?: CompiledSource | null }> = z.object({
  subject: z.string(),
  preheader: z.string().nullish(),
  mjml: z.string().nullish(),
  html: z.string().nullish(),
  text: z.string().nullish(),
  fromName: z.string().nullish(),
  replyTo: z.string().nullish(),
  question: storedQuestion.nullish(),
  compiled: z.object({ html: z.string(), text: z.string().nullable() }).nullish(),
});

/** A campaign's compiled email, kept while its row is unchanged: a send compiles once per process. */
const compiledCampaigns = new Map<string, { updatedAt: number; compiled: Promise<CompiledEmail> }>();
const CACHED_CAMPAIGNS = 64;

export function compiledEmailOf(campaign: { id: string; updatedAt: Date; content: unknown; variant?: string }): Promise<CompiledEmail> {
  // An experiment's variants are the campaign with other content (delivery/experiment.ts).
  const key = campaign.variant ? `${campaign.id}/${campaign.variant}` : campaign.id;
  const cached = compiledCampaigns.get(key);
  compiledCampaigns.delete(key);
  const entry =
    cached && cached.updatedAt === campaign.updatedAt.getTime()
      ? cached
      : {
          updatedAt: campaign.updatedAt.getTime(),
          compiled: Promise.resolve(campaign.content).then((content) => {
            const { compiled, ...email } = storedEmailContent.parse(content);
            return compileEmail(email, compiled);
          }),
        };
  // Most recently used last; the least recently used goes first.
  compiledCampaigns.set(key, entry);
  if (compiledCampaigns.size > CACHED_CAMPAIGNS) compiledCampaigns.delete(compiledCampaigns.keys().next().value!);
  return entry.compiled;
}
