import { ECDH } from 'node:crypto';
import { z } from 'zod';
import type { EndpointPolicy } from '../net/allowed-hosts.ts';
import { resolveZone } from '../workspaces/settings.ts';

export const MAX_ATTRIBUTES_BYTES = 16 * 1024;
export const MAX_BATCH = 10_000;

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** A JSON object (not an array or a scalar) whose serialised size is at most `maxBytes`. */
export function jsonObject(maxBytes: number) {
  return z
    .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
      message: 'must be a JSON object',
    })
    .refine((value) => jsonBytes(value) <= maxBytes, { message: `must be at most ${maxBytes / 1024} KB as JSON` });
}

export const identifier = z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters');
export const tag = z.string().trim().regex(/^[\w:.-]{1,64}$/, 'must be 1-64 letters, digits or _ : . -');
export const tags = z.array(tag).max(100, 'at most 100 tags');

export const locale = z.string().refine(
  (value) => {
    try {
      return Intl.getCanonicalLocales(value).length === 1;
    } catch {
      return false;
    }
  },
  { message: 'must be a BCP 47 locale such as "en-US"' },
);
/**
 * A contact's, browser's or device's zone, stored by its canonical name. Browsers and apps report
 * these: a name the platform knows but delivery cannot compute with (ICU's "PST", "IST", "BST")
 * is dropped, as if no zone had been given, rather than refusing the visitor's registration; the
 * workspace's zone stands in. A name that is no zone at all is refused.
 */
export const timezone = z
  .string()
  .refine((name) => resolveZone(name) !== undefined, { message: 'must be an IANA time zone name, e.g. "Europe/Warsaw"' })
  .transform((name) => resolveZone(name) ?? undefined);

/** The contact's own columns, validated the same wherever they are given. */
const knownFields = {
  email: z.email('must be an email address').max(254).transform((email) => email.toLowerCase()),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +48123456789'),
  firstName: z.string().trim().max(100, 'must be at most 100 characters'),
  lastName: z.string().trim().max(100, 'must be at most 100 characters'),
  locale,
  timezone,
};
type KnownField = keyof typeof knownFields;
type KnownFieldValues = { [K in KnownField]?: z.output<(typeof knownFields)[K]> };
const KNOWN_FIELDS = Object.keys(knownFields) as KnownField[];

/**
 * Moves the known fields (firstName, lastName, email, phone, locale, timezone) found in
 * `attributes` to the contact's columns, validated as the fields themselves; a bad value is an
 * issue at `attributes.<name>`. A web page's identify has no other place for them, and a value in
 * the column is what segments and templates read. They do not stay in attributes (one place per
 * fact); the explicit field wins when both are given, and a null attribute says nothing.
 */
export function liftKnownFields<T extends { attributes?: Record<string, unknown> | undefined } & KnownFieldValues>(
  contact: T,
  context: z.RefinementCtx,
): T & KnownFieldValues {
  const { attributes } = contact;
  if (!attributes || !KNOWN_FIELDS.some((key) => Object.hasOwn(attributes, key))) return contact;
  const rest = { ...attributes };
  const lifted: KnownFieldValues = {};
  for (const key of KNOWN_FIELDS) {
    if (!Object.hasOwn(rest, key)) continue;
    const value = rest[key];
    delete rest[key];
    if (contact[key] !== undefined || value === null || value === undefined) continue;
    const parsed = knownFields[key].safeParse(value);
    if (parsed.success) Object.assign(lifted, { [key]: parsed.data });
    else for (const issue of parsed.error.issues) context.addIssue({ code: 'custom', message: issue.message, path: ['attributes', key, ...issue.path] });
  }
  return { ...contact, ...lifted, attributes: rest };
}

/** true subscribes the contact's address to the channel, false unsubscribes it (see contacts/channel-status.ts). */
export const optIn = z.boolean();

/** Fields a contact can be given; absent fields stay as they are. */
export const contactInput = z
  .object({
    externalId: identifier.optional(),
    anonymousId: identifier.optional(),
    email: knownFields.email.optional(),
    phone: knownFields.phone.optional(),
    firstName: knownFields.firstName.optional(),
    lastName: knownFields.lastName.optional(),
    locale: locale.optional(),
    timezone: timezone.optional(),
    attributes: jsonObject(MAX_ATTRIBUTES_BYTES).optional(),
    tags: tags.optional(),
    emailOptIn: optIn.optional(),
    smsOptIn: optIn.optional(),
  })
  .transform(liftKnownFields)
  .refine((contact) => contact.externalId || contact.email || contact.anonymousId, {
    message: 'give at least one of externalId, email or anonymousId',
    path: ['externalId'],
  });
export type ContactInput = z.input<typeof contactInput>;
export type ValidContact = z.output<typeof contactInput>;

/** A page's proof of whom it names (see contacts/identity.ts); a wrong one is refused there, with its own code. */
export const identityTokenInput = z.string().max(256, 'must be at most 256 characters');

/** Who an event or subscription belongs to: one of three ways to name a contact (and a page's proof). */
export const contactRef = z.object({
  contactId: z.string().uuid().optional(),
  externalId: identifier.optional(),
  anonymousId: identifier.optional(),
  identityToken: identityTokenInput.optional(),
});
export type ContactRef = z.output<typeof contactRef>;
export const hasContactRef = (ref: ContactRef) => Boolean(ref.contactId || ref.externalId || ref.anonymousId);
export const contactRefMessage = { message: 'give one of contactId, externalId or anonymousId', path: ['contactId'] };

function base64urlBytes(value: string): Buffer | null {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64url') : null;
}

/** The browser's PushSubscription.toJSON(), checked the way a push service would. */
export const pushSubscriptionInput = contactRef
  .extend({
    subscription: z.object({
      endpoint: z
        .url({ protocol: /^https$/, message: 'must be an https:// URL' })
        .max(2048, 'must be at most 2048 characters'),
      keys: z.object({
        p256dh: z.string().refine(isP256Point, { message: 'must be a base64url P-256 public key (65 bytes, uncompressed)' }),
        auth: z.string().refine((value) => base64urlBytes(value)?.length === 16, { message: 'must be 16 bytes, base64url' }),
      }),
      expirationTime: z.date().nullable().optional(),
    }),
    userAgent: z.string().max(512).optional(),
    timezone: timezone.optional(),
    locale: locale.optional(),
  })
  .refine(hasContactRef, contactRefMessage);
export type PushSubscriptionInput = z.output<typeof pushSubscriptionInput>;

/** pushSubscriptionInput whose endpoint is also one of the deployment's push services (HERALD_PUSH_ALLOWED_HOSTS). */
export function allowedPushSubscriptionInput(endpoints: EndpointPolicy) {
  return pushSubscriptionInput.superRefine(({ subscription }, context) => {
    const refusal = endpoints.endpointRefusal(subscription.endpoint);
    if (refusal) context.addIssue({ code: 'custom', path: ['subscription', 'endpoint'], message: `must be the endpoint of an allowed push service: ${refusal}` });
  });
}

function isP256Point(value: string): boolean {
  const bytes = base64urlBytes(value);
  if (bytes?.length !== 65 || bytes[0] !== 0x04) return false;
  try {
    // Throws unless the bytes are a point on the curve.
    ECDH.convertKey(bytes, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}
