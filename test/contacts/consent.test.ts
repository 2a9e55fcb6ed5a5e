/**
 * Consent per channel (issue 18): emailOptIn / smsOptIn through the secret key (the site's backend,
 * source "api") and the publishable key (a signup form on a page, source "page"), the statuses an
 * opt-in cannot override (BOUNCED, COMPLAINED), a new address starting over, and two contacts of
 * one person merged on identify.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf, errorCodes } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Upsert = graphql(`
  mutation ConsentUpsert($input: ContactInput!) {
    upsertContact(input: $input) {
      __typename
      ... on MutationUpsertContactSuccess { data { id emailStatus smsStatus } }
      ... on ValidationError { code fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Import = graphql(`
  mutation ConsentImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) {
      __typename
      ... on MutationImportContactsSuccess { data { created updated failed { index errors { path message } } } }
    }
  }
`);
const Identify = graphql(`
  mutation ConsentIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) {
      __typename
      ... on ValidationError { code fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const IdentifyReadingStatus = graphql(`
  mutation ConsentIdentifyReadingStatus($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on MutationIdentifyContactSuccess { data { id emailStatus } } }
  }
`);
const Consent = graphql(`
  query ConsentOf($externalId: String!) {
    contact(externalId: $externalId) {
      email phone firstName attributes
      emailStatus emailStatusAt emailStatusSource
      smsStatus smsStatusAt smsStatusSource
    }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace('Consent shop');

async function upsert(input: Record<string, unknown>) {
  return dataOf(await shop.secret(Upsert, { input } as never)).upsertContact;
}
async function consentOf(externalId: string) {
  const contact = dataOf(await shop.secret(Consent, { externalId })).contact;
  if (!contact) throw new Error(`no contact ${externalId}`);
  return contact;
}
/** What a page's signup form sends: the visitor's anonymous id, the customer it proves, and the form. */
function pageIdentify(externalId: string, input: Record<string, unknown>, anonymousId = `visitor-of-${externalId}`) {
  const identityToken = shop.publishable.identityTokenFor(externalId);
  return shop.publishable(Identify, { input: { anonymousId, externalId, identityToken, ...input } } as never);
}
/** Sets a status the way the email and SMS channels will (a hard bounce, a spam report). */
async function markAddress(where: { externalId: string } | { anonymousId: string }, data: Record<string, unknown>) {
  await h.kit.herald.prisma.contact.updateMany({ where, data });
}
function within(at: string | null | undefined, before: number, after: number) {
  expect(at).toBeTruthy();
  const time = Date.parse(at!);
  // The database stamps the time; allow for the clock's resolution, not for minutes.
  expect(time).toBeGreaterThanOrEqual(before - 1000);
  expect(time).toBeLessThanOrEqual(after + 1000);
}

describe('opting in and out', () => {
  it('with the secret key: SUBSCRIBED / UNSUBSCRIBED per channel, with the time and source "api"', async () => {
    const before = Date.now();
    const created = await upsert({ externalId: 'api-1', email: 'api-1@example.com', phone: '+48111222333', emailOptIn: true, smsOptIn: false });
    const after = Date.now();
    expect(created).toMatchObject({ __typename: 'MutationUpsertContactSuccess', data: { emailStatus: 'SUBSCRIBED', smsStatus: 'UNSUBSCRIBED' } });
    const stored = await consentOf('api-1');
    expect(stored).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'api', smsStatus: 'UNSUBSCRIBED', smsStatusSource: 'api' });
    within(stored.emailStatusAt, before, after);
    within(stored.smsStatusAt, before, after);

    // Absent opt-ins leave the statuses and their times alone; the same opt-in again changes nothing.
    await upsert({ externalId: 'api-1', firstName: 'Ada' });
    await upsert({ externalId: 'api-1', emailOptIn: true });
    expect(await consentOf('api-1')).toMatchObject({ firstName: 'Ada', emailStatus: 'SUBSCRIBED', emailStatusAt: stored.emailStatusAt, smsStatusAt: stored.smsStatusAt });

    await new Promise((resolve) => setTimeout(resolve, 20));
    await upsert({ externalId: 'api-1', emailOptIn: false, smsOptIn: true });
    const changed = await consentOf('api-1');
    expect(changed).toMatchObject({ emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'api', smsStatus: 'SUBSCRIBED', smsStatusSource: 'api' });
    expect(Date.parse(changed.emailStatusAt!)).toBeGreaterThan(Date.parse(stored.emailStatusAt!));
  });

  it('a new contact without an opt-in is NONE with no time or source', async () => {
    await upsert({ externalId: 'quiet', email: 'quiet@example.com' });
    expect(await consentOf('quiet')).toMatchObject({ emailStatus: 'NONE', emailStatusAt: null, emailStatusSource: null, smsStatus: 'NONE' });
  });

  it('through an import, row by row', async () => {
    const result = dataOf(
      await shop.secret(Import, {
        contacts: [
          { externalId: 'imp-1', email: 'imp-1@example.com', emailOptIn: true },
          { externalId: 'imp-2', email: 'imp-2@example.com', emailOptIn: false, smsOptIn: true, phone: '+48111222444' },
          { externalId: 'imp-3', attributes: { email: 'not an address' }, emailOptIn: true },
        ],
      }),
    ).importContacts;
    expect(result).toMatchObject({ data: { created: 2, updated: 0, failed: [{ index: 2, errors: [{ path: ['attributes', 'email'] }] }] } });
    expect(await consentOf('imp-1')).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'api' });
    expect(await consentOf('imp-2')).toMatchObject({ emailStatus: 'UNSUBSCRIBED', smsStatus: 'SUBSCRIBED', smsStatusSource: 'api' });
    expect(dataOf(await shop.secret(Consent, { externalId: 'imp-3' })).contact).toBeNull();
  });

  it('with the publishable key: a signup form subscribes its visitor, source "page", and only with an identity token', async () => {
    const refused = dataOf(
      await shop.publishable(Identify, { input: { anonymousId: 'v-page', externalId: 'page-1', attributes: { email: 'page-1@example.com' }, emailOptIn: true } }),
    ).identifyContact;
    expect(refused).toMatchObject({ __typename: 'ValidationError', code: 'identity/verification_required' });
    expect(dataOf(await shop.secret(Consent, { externalId: 'page-1' })).contact).toBeNull();

    const before = Date.now();
    const result = dataOf(await pageIdentify('page-1', { attributes: { email: 'Page-1@Example.com' }, emailOptIn: true, smsOptIn: false })).identifyContact;
    const after = Date.now();
    expect(result.__typename).toBe('MutationIdentifyContactSuccess');
    const stored = await consentOf('page-1');
    expect(stored).toMatchObject({ email: 'page-1@example.com', emailStatus: 'SUBSCRIBED', emailStatusSource: 'page', smsStatus: 'UNSUBSCRIBED', smsStatusSource: 'page' });
    within(stored.emailStatusAt, before, after);

    // The visitor unsubscribes on the page later.
    await pageIdentify('page-1', { emailOptIn: false });
    expect(await consentOf('page-1')).toMatchObject({ emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'page' });
  });

  it('a publishable key still cannot read the statuses: the page surface is not widened', async () => {
    const identityToken = shop.publishable.identityTokenFor('page-1');
    const answer = await shop.publishable(IdentifyReadingStatus, { input: { anonymousId: 'visitor-of-page-1', externalId: 'page-1', identityToken } });
    expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
    expect(answer.data ?? null).toBeNull();
  });

  it('a page fills gaps only: its opt-in for an address other than the stored one is ignored with that address', async () => {
    await upsert({ externalId: 'gap-1', email: 'stored@example.com' });
    await pageIdentify('gap-1', { attributes: { email: 'typed@example.com' }, emailOptIn: true });
    expect(await consentOf('gap-1')).toMatchObject({ email: 'stored@example.com', emailStatus: 'NONE', emailStatusSource: null });

    // Without an address the opt-in is about the stored one.
    await pageIdentify('gap-1', { emailOptIn: true });
    expect(await consentOf('gap-1')).toMatchObject({ email: 'stored@example.com', emailStatus: 'SUBSCRIBED', emailStatusSource: 'page' });
  });

  it("a page cannot put someone else's email on its customer nor learn that it is taken; the backend is told", async () => {
    await upsert({ externalId: 'owner', email: 'owner@example.com', emailOptIn: false });
    const fromPage = dataOf(await pageIdentify('intruder', { attributes: { email: 'owner@example.com', firstName: 'Eve' }, emailOptIn: true })).identifyContact;
    expect(fromPage.__typename).toBe('MutationIdentifyContactSuccess');
    expect(await consentOf('intruder')).toMatchObject({ email: null, firstName: 'Eve', emailStatus: 'NONE' });
    expect(await consentOf('owner')).toMatchObject({ email: 'owner@example.com', emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'api' });

    const fromBackend = dataOf(
      await shop.secret(Identify, { input: { anonymousId: 'v-intruder-2', externalId: 'intruder-2', attributes: { email: 'owner@example.com' }, emailOptIn: true } }),
    ).identifyContact;
    expect(fromBackend).toMatchObject({ __typename: 'ConflictError', code: 'contact/key_taken' });
    expect(dataOf(await shop.secret(Consent, { externalId: 'intruder-2' })).contact).toBeNull();
  });
});

describe('what an opt-in cannot change', () => {
  it('a BOUNCED or COMPLAINED address is neither re-subscribed nor unsubscribed by an opt-in, from either key', async () => {
    await upsert({ externalId: 'dead', email: 'dead@example.com', phone: '+48111222555', emailOptIn: true, smsOptIn: true });
    await markAddress({ externalId: 'dead' }, { emailStatus: 'BOUNCED', emailStatusSource: 'bounce', smsStatus: 'COMPLAINED', smsStatusSource: 'complaint' });
    await upsert({ externalId: 'dead', emailOptIn: true, smsOptIn: true });
    await pageIdentify('dead', { emailOptIn: true, smsOptIn: true });
    expect(await consentOf('dead')).toMatchObject({ emailStatus: 'BOUNCED', emailStatusSource: 'bounce', smsStatus: 'COMPLAINED', smsStatusSource: 'complaint' });
    await upsert({ externalId: 'dead', emailOptIn: false, smsOptIn: false });
    expect(await consentOf('dead')).toMatchObject({ emailStatus: 'BOUNCED', smsStatus: 'COMPLAINED' });
    // Giving the same address again is not a new address.
    await upsert({ externalId: 'dead', email: 'DEAD@example.com', emailOptIn: true });
    expect(await consentOf('dead')).toMatchObject({ emailStatus: 'BOUNCED' });
  });

  it('a new address starts over: NONE, or what the same input says', async () => {
    await upsert({ externalId: 'mover', email: 'old@example.com', phone: '+48111222666', emailOptIn: true, smsOptIn: true });
    await markAddress({ externalId: 'mover' }, { emailStatus: 'BOUNCED', emailStatusSource: 'bounce' });

    const before = Date.now();
    await upsert({ externalId: 'mover', email: 'new@example.com' });
    const moved = await consentOf('mover');
    expect(moved).toMatchObject({ email: 'new@example.com', emailStatus: 'NONE', emailStatusSource: 'api', smsStatus: 'SUBSCRIBED' });
    within(moved.emailStatusAt, before, Date.now());

    await upsert({ externalId: 'mover', email: 'newer@example.com', emailOptIn: true, phone: '+48111222777' });
    expect(await consentOf('mover')).toMatchObject({ email: 'newer@example.com', emailStatus: 'SUBSCRIBED', phone: '+48111222777', smsStatus: 'NONE', smsStatusSource: 'api' });
  });

  it('a bad input is a typed error and changes nothing, opt-ins included', async () => {
    await upsert({ externalId: 'steady', email: 'steady@example.com', emailOptIn: false });
    const before = await consentOf('steady');

    const badUpsert = await upsert({ externalId: 'steady', emailOptIn: true, attributes: { phone: '123' } });
    expect(badUpsert).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'attributes', 'phone'] }] });
    const badPage = dataOf(await pageIdentify('steady', { emailOptIn: true, attributes: { timezone: 'Mars/Olympus' } })).identifyContact;
    expect(badPage).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'attributes', 'timezone'] }] });
    const badEmail = await upsert({ externalId: 'steady', email: 'not-an-address', emailOptIn: true });
    expect(badEmail).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'email'] }] });

    expect(await consentOf('steady')).toEqual(before);
  });
});

describe('merging on identify', () => {
  it('an opt-out on either side wins over an opt-in on the other; the stronger status keeps its time and source', async () => {
    // The visitor unsubscribed anonymously (say, from a footer form), the customer record says subscribed.
    await upsert({ anonymousId: 'v-merge-1', emailOptIn: false });
    const optedOut = await h.kit.herald.prisma.contact.findFirstOrThrow({ where: { anonymousId: 'v-merge-1' } });
    await upsert({ externalId: 'merge-1', email: 'merge-1@example.com', emailOptIn: true });
    await pageIdentify('merge-1', {}, 'v-merge-1');
    const merged = await consentOf('merge-1');
    expect(merged).toMatchObject({ email: 'merge-1@example.com', emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'api' });
    expect(merged.emailStatusAt).toBe(optedOut.emailStatusAt!.toISOString());
    expect(await h.kit.herald.prisma.contact.count({ where: { anonymousId: 'v-merge-1', externalId: null } })).toBe(0);

    // The other way round: an anonymous opt-in does not undo the customer's opt-out.
    await upsert({ anonymousId: 'v-merge-3', emailOptIn: true, smsOptIn: true });
    await upsert({ externalId: 'merge-3', email: 'merge-3@example.com', emailOptIn: false });
    await pageIdentify('merge-3', {}, 'v-merge-3');
    expect(await consentOf('merge-3')).toMatchObject({ emailStatus: 'UNSUBSCRIBED', smsStatus: 'SUBSCRIBED' });
  });

  it("the visitor's address fills the customer's gap and brings its status; a status about another address is dropped", async () => {
    await upsert({ anonymousId: 'v-merge-4', email: 'visitor-4@example.com', emailOptIn: true });
    await upsert({ externalId: 'merge-4', firstName: 'Kit' });
    await shop.secret(Identify, { input: { anonymousId: 'v-merge-4', externalId: 'merge-4' } });
    expect(await consentOf('merge-4')).toMatchObject({ email: 'visitor-4@example.com', firstName: 'Kit', emailStatus: 'SUBSCRIBED', emailStatusSource: 'api' });

    await upsert({ anonymousId: 'v-merge-5', email: 'other-5@example.com' });
    await markAddress({ anonymousId: 'v-merge-5' }, { emailStatus: 'BOUNCED', emailStatusSource: 'bounce' });
    await upsert({ externalId: 'merge-5', email: 'merge-5@example.com', emailOptIn: true });
    await shop.secret(Identify, { input: { anonymousId: 'v-merge-5', externalId: 'merge-5' } });
    expect(await consentOf('merge-5')).toMatchObject({ email: 'merge-5@example.com', emailStatus: 'SUBSCRIBED', emailStatusSource: 'api' });
  });

  it("the identify call's own opt-in applies after the merge", async () => {
    await upsert({ anonymousId: 'v-merge-6', emailOptIn: false });
    await upsert({ externalId: 'merge-6', email: 'merge-6@example.com' });
    await pageIdentify('merge-6', { emailOptIn: true }, 'v-merge-6');
    expect(await consentOf('merge-6')).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'page' });
  });
});
