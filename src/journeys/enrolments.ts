import type { JourneyEnrollment, JourneyPathEntry } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import type { Journey } from './service.ts';

/** How many enrolments a contact shows, newest first. */
const ENROLMENTS_SHOWN = 100;

// Batch readers for Contact.journeys' loaders: a page of contacts reads its enrolments, their
// journeys and their paths with one query each, whatever the page's size.

/** Each contact's enrolments, newest first, in the order the ids were asked. */
export async function enrolmentsOfContacts(herald: Herald, contactIds: readonly string[]): Promise<JourneyEnrollment[][]> {
  const contacts = await herald.prisma.contact.findMany({
    where: { id: { in: [...contactIds] } },
    select: { id: true, journeyEnrollments: { orderBy: { enteredAt: 'desc' }, take: ENROLMENTS_SHOWN } },
  });
  const byContact = new Map(contacts.map((contact) => [contact.id, contact.journeyEnrollments]));
  return contactIds.map((id) => byContact.get(id) ?? []);
}

/** The journeys of these ids, in the order asked (an enrolment's journey always exists). */
export async function journeysById(herald: Herald, journeyIds: readonly string[]): Promise<(Journey | Error)[]> {
  const journeys = await herald.prisma.journey.findMany({ where: { id: { in: [...journeyIds] } } });
  const byId = new Map(journeys.map((journey) => [journey.id, journey]));
  return journeyIds.map((id) => byId.get(id) ?? new Error(`No journey ${id}`));
}

/** Each enrolment's passed steps, in order. */
export async function pathsOfEnrolments(herald: Herald, enrolmentIds: readonly string[]): Promise<JourneyPathEntry[][]> {
  const entries = await herald.prisma.journeyPathEntry.findMany({ where: { enrollmentId: { in: [...enrolmentIds] } }, orderBy: { seq: 'asc' } });
  const byEnrolment = new Map(enrolmentIds.map((id) => [id, [] as JourneyPathEntry[]]));
  for (const entry of entries) byEnrolment.get(entry.enrollmentId)?.push(entry);
  return enrolmentIds.map((id) => byEnrolment.get(id)!);
}
