import { z } from 'zod';
import { fromZodIssues } from '../errors.ts';
import type { Contact } from '../generated/prisma/client.ts';
import type { Prisma } from '../db/prisma.ts';
import type { Herald } from '../herald-context.ts';
import { applyContacts } from './apply.ts';
import { verifyIdentities, type Writer } from './identity.ts';
import { identityTokenInput, jsonObject, MAX_ATTRIBUTES_BYTES } from './validation.ts';

const identifyInput = z.object({
  anonymousId: z.string().trim().min(1, 'must not be empty').max(255),
  externalId: z.string().trim().min(1, 'must not be empty').max(255),
  attributes: jsonObject(MAX_ATTRIBUTES_BYTES).optional(),
  identityToken: identityTokenInput.optional(),
});

/**
 * The visitor logged in: the anonymous contact of `anonymousId` becomes (or merges into) the
 * identified contact of `externalId`. Its events, subscriptions and messages move over, tags are united and
 * attributes merged with the identified contact's values winning; the anonymous contact is gone.
 * Calling it again changes nothing more. A page must prove the externalId (identity verification)
 * and only fills gaps: what the contact already has wins over the page's attributes.
 */
export async function identifyContact(herald: Herald, workspaceId: string, input: unknown, writer: Writer = 'backend'): Promise<Contact> {
  const parsed = identifyInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { anonymousId, externalId, attributes, identityToken } = parsed.data;
  await verifyIdentities(herald, workspaceId, writer, [{ externalId, identityToken }], () => ['input']);
  const fillOnly = writer === 'page';

  const contactId = await herald.prisma.$transaction(async (tx) => {
    // Lock both rows (if they exist) so two identify calls for one visitor run one after the other.
    const [anonymous] = await tx.$queryRaw<Contact[]>`
      SELECT * FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid AND "anonymousId" = ${anonymousId} FOR UPDATE`;
    const [known] = await tx.$queryRaw<Contact[]>`
      SELECT * FROM "Contact" WHERE "workspaceId" = ${workspaceId}::uuid AND "externalId" = ${externalId} FOR UPDATE`;

    // An anonymous visitor, or one already known as this person: identify it in place.
    if (anonymous && (!known || known.id === anonymous.id) && (!anonymous.externalId || anonymous.externalId === externalId)) {
      const { ids } = await applyContacts(tx, workspaceId, [{ externalId, anonymousId, attributes }], { fillOnly });
      return ids.get(0)!;
    }
    if (anonymous && !anonymous.externalId && known) {
      await tx.event.updateMany({ where: { contactId: anonymous.id }, data: { contactId: known.id } });
      await tx.pushSubscription.updateMany({ where: { contactId: anonymous.id }, data: { contactId: known.id } });
      // The ledger goes with them: its rows are the contact's message history and back the stats.
      await tx.message.updateMany({ where: { contactId: anonymous.id }, data: { contactId: known.id } });
      await tx.contact.delete({ where: { id: anonymous.id } });
      await tx.contact.update({
        where: { id: known.id },
        data: {
          // The browser's current anonymous id now leads to the person, so the SDK keeps finding them.
          anonymousId: anonymous.anonymousId,
          // Identified values win over what the anonymous visitor had; a page's only fill gaps.
          attributes: (fillOnly
            ? { ...(anonymous.attributes as object), ...attributes, ...(known.attributes as object) }
            : { ...(anonymous.attributes as object), ...(known.attributes as object), ...attributes }) as Prisma.InputJsonObject,
          tags: [...new Set([...known.tags, ...anonymous.tags])],
          locale: known.locale ?? anonymous.locale,
          timezone: known.timezone ?? anonymous.timezone,
          consentedAt: earliest(known.consentedAt, anonymous.consentedAt),
          lastSeenAt: latest(known.lastSeenAt, anonymous.lastSeenAt),
        },
      });
      return known.id;
    }
    // No anonymous visitor to merge (or it is already someone else): make sure the person exists.
    const { ids } = await applyContacts(tx, workspaceId, [{ externalId, attributes, ...(anonymous ? {} : { anonymousId }) }], { fillOnly });
    return ids.get(0)!;
  });
  herald.events.publish('workspace:changed', workspaceId, { reason: 'contacts_changed' });
  return herald.prisma.contact.findUniqueOrThrow({ where: { id: contactId } });
}

function earliest(a: Date | null, b: Date | null): Date | null {
  return a && b ? (a < b ? a : b) : (a ?? b);
}
function latest(a: Date | null, b: Date | null): Date | null {
  return a && b ? (a > b ? a : b) : (a ?? b);
}
