import { z } from 'zod';
import { contactRef, contactRefMessage, hasContactRef, identifier, jsonObject } from '../contacts/validation.ts';

export const MAX_PROPERTIES_BYTES = 8 * 1024;

/** One behavioural event. `now` is passed in so a batch is judged against one clock. */
export function eventInput(now: Date) {
  const latest = new Date(now.getTime() + 24 * 3600 * 1000);
  return contactRef
    .extend({
      name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 letters, digits or _ . -'),
      properties: jsonObject(MAX_PROPERTIES_BYTES).optional(),
      occurredAt: z.date().max(latest, 'must not be more than 24 hours in the future').optional(),
      idempotencyKey: identifier.optional(),
    })
    .refine(hasContactRef, contactRefMessage);
}
export type EventInput = z.output<ReturnType<typeof eventInput>>;
