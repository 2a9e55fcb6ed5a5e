import { z } from 'zod';
import { contactRef, contactRefMessage, hasContactRef, identifier, jsonObject } from '../contacts/validation.ts';

export const MAX_PROPERTIES_BYTES = 8 * 1024;

const DAY_MS = 24 * 3600 * 1000;

/**
 * One behavioural event. Built once: zod compiles a schema on its first parse, so a schema made
 * per call (to carry "now") cost more than the rest of validation on the browser's path.
 */
export const eventInput = contactRef
  .extend({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 letters, digits or _ . -'),
    properties: jsonObject(MAX_PROPERTIES_BYTES).optional(),
    occurredAt: z
      .date()
      .refine((date) => date.getTime() <= Date.now() + DAY_MS, 'must not be more than 24 hours in the future')
      .optional(),
    idempotencyKey: identifier.optional(),
  })
  .refine(hasContactRef, contactRefMessage);
export const eventInputs = z.array(eventInput);
export type EventInput = z.output<typeof eventInput>;
