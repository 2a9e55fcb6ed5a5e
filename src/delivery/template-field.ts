import { z } from 'zod';
import { templateRefusal } from './templates.ts';

/**
 * A content field of at most `max` characters that parses as a Liquid template and reads no file.
 * Apart from templates.ts, so that what only renders (the email build thread) does not load zod.
 */
export const templateField = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .superRefine((source, context) => {
      const refusal = templateRefusal(source);
      if (refusal) context.addIssue({ code: 'custom', message: refusal });
    });
