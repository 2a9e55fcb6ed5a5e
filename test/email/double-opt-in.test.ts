/**
 * Double opt-in (issue 18): with the workspace's email.doubleOptIn on, an email opt-in (secret or
 * publishable key; upsert, import, identify) mails a confirmation link instead of subscribing; the
 * link's GET only shows a button, its POST subscribes (source "double-opt-in"). Real Herald, real
 * SMTP server from the test kit, real HTTP for the link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signConfirmationToken } from '../../src/delivery/email/confirm-link.ts';
import { secretFromRow } from '../../src/workspaces/secrets.ts';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald, type Workspace } from '../kit/fixture.ts';
import { type ReceivedEmail, startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';

const Settings = graphql(`
  mutation DoubleOptInSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on ValidationError { message fieldErrors { path message } }
    }
  }
`);
const Upsert = graphql(`
  mutation DoubleOptInUpsert($input: ContactInput!) {
    upsertContact(input: $input) { __typename ... on MutationUpsertContactSuccess { data { id emailStatus } } ... on Error { message } }
  }
`);
const Import = graphql(`
  mutation DoubleOptInImport($contacts: [ContactInput!]!) {
    importContacts(input: { contacts: $contacts }) { __typename ... on MutationImportContactsSuccess { data { created failed { index } } } }
  }
`);
const Identify = graphql(`
  mutation DoubleOptInIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on Error { message } }
  }
`);
const Consent = graphql(`
  query DoubleOptInConsent($externalId: String!) {
    contact(externalId: $externalId) { id email emailStatus emailStatusAt emailStatusSource }
  }
`);

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_TIMEOUT_MS: '2000' }, { push: false });
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

let shop: Workspace;
beforeAll(async () => {
  shop = await workspaceWith({ fromAddress: 'news@shop.example', fromName: 'Shop <&> Co', doubleOptIn: true });
});

async function workspaceWith(email: Record<string, unknown>, smtpServer = true): Promise<Workspace> {
  const workspace = await h.workspace();
  const input = { email: { ...(smtpServer ? { smtpUrl: smtp.url } : {}), ...email } };
  expect(dataOf(await workspace.secret(Settings, { input } as never)).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
  return workspace;
}

const unique = (name: string) => `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}@mail.example`;

async function upsert(workspace: Workspace, input: Record<string, unknown>) {
  const result = dataOf(await workspace.secret(Upsert, { input } as never)).upsertContact;
  if (result.__typename !== 'MutationUpsertContactSuccess') throw new Error(JSON.stringify(result));
  return result.data;
}
async function consentOf(externalId: string, workspace = shop) {
  const contact = dataOf(await workspace.secret(Consent, { externalId })).contact;
  if (!contact) throw new Error(`no contact ${externalId}`);
  return contact;
}

/** Waits until `address` has received `count` emails; answers them. */
async function mailsTo(address: string, count = 1, timeoutMs = 15_000): Promise<ReceivedEmail[]> {
  const deadline = Date.now() + timeoutMs;
  while (smtp.to(address).length < count) {
    if (Date.now() > deadline) throw new Error(`${address} received ${smtp.to(address).length} emails, not ${count}, in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return smtp.to(address);
}
const linkIn = (mail: ReceivedEmail) => /(https?:\/\/\S+\/e\/confirm\/[A-Za-z0-9_.-]+)/.exec(mail.text ?? '')![1]!;
const press = (link: string) => fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });

/** The confirmation request row (the 10-minute window's memory), read straight from the database. */
const requestOf = (contactId: string) => h.kit.herald.prisma.emailConfirmation.findUnique({ where: { contactId } });
const localId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;
/** Waits for what only the confirmation job changes (a request sent or forgotten). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('with double opt-in on', () => {
  it('an opt-in mails one confirmation; the GET only shows a button; the POST subscribes, once', async () => {
    const address = unique('ada');
    expect(await upsert(shop, { externalId: 'ada', email: address, emailOptIn: true })).toMatchObject({ emailStatus: 'NONE' });
    expect(await consentOf('ada')).toMatchObject({ emailStatus: 'NONE', emailStatusSource: null });

    const [mail] = await mailsTo(address);
    expect(mail!.subject).toBe('Please confirm your subscription');
    expect(mail!.from).toEqual({ address: 'news@shop.example', name: 'Shop <&> Co' });
    expect(mail!.messageId).toMatch(/^<confirm-[0-9a-f-]{36}-\d+@shop\.example>$/);
    expect(mail!.html).toContain('<strong>Shop &#60;&#38;&#62; Co</strong>');
    expect(mail!.html).not.toContain('Shop <&> Co');
    const link = linkIn(mail!);
    expect(link.startsWith(`${h.kit.url}/e/confirm/`)).toBe(true);
    expect(mail!.html).toContain(`href="${link}"`);

    // Link scanners follow GETs: the page asks, nothing changes.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<form method="post" action="\/e\/confirm\/[^"]+"><button type="submit">Confirm<\/button><\/form>/);
    expect(html).toContain('Shop &#60;&#38;&#62; Co');
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self'");
    expect((await fetch(link, { method: 'HEAD' })).status).toBe(200);
    expect(await consentOf('ada')).toMatchObject({ emailStatus: 'NONE', emailStatusSource: null });

    const before = Date.now();
    const confirmed = await press(link);
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Subscription confirmed');
    const subscribed = await consentOf('ada');
    expect(subscribed).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });
    expect(Date.parse(subscribed.emailStatusAt!)).toBeGreaterThanOrEqual(before - 1000);

    // Pressed again: the same page, nothing changes.
    expect((await press(link)).status).toBe(200);
    expect(await consentOf('ada')).toEqual(subscribed);
    // Subscribed now, another opt-in asks for nothing.
    await until(async () => (await requestOf(localId(subscribed.id)))?.sentAt != null, 'the mail to be recorded');
    const request = await requestOf(localId(subscribed.id));
    await upsert(shop, { externalId: 'ada', emailOptIn: true });
    expect(await requestOf(localId(subscribed.id))).toEqual(request);
    expect(smtp.to(address)).toHaveLength(1);
  });

  it('a link mailed to a visitor who then logs in confirms for the customer it merged into', async () => {
    const address = unique('visitor');
    const customer = await upsert(shop, { externalId: 'cust-doi' });
    // The newsletter form before login, then the login before the mail is opened.
    await upsert(shop, { anonymousId: 'v-doi', email: address, emailOptIn: true });
    const [mail] = await mailsTo(address);
    await until(async () => (await h.kit.herald.prisma.emailConfirmation.findFirst({ where: { email: address } }))?.sentAt != null, 'the mail to be recorded');
    expect(dataOf(await shop.secret(Identify, { input: { anonymousId: 'v-doi', externalId: 'cust-doi' } })).identifyContact.__typename).toBe('MutationIdentifyContactSuccess');
    expect(await consentOf('cust-doi')).toMatchObject({ email: address, emailStatus: 'NONE' });
    // The request went along: its window still holds for the customer.
    expect(await requestOf(localId(customer.id))).toMatchObject({ email: address });

    const confirmed = await press(linkIn(mail!));
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Subscription confirmed');
    expect(await consentOf('cust-doi')).toMatchObject({ email: address, emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });
    expect(smtp.to(address)).toHaveLength(1);
  });

  it('a form sent twice within 10 minutes mails once; after the window, or for another address, it asks again', async () => {
    const address = unique('twice');
    const { id } = await upsert(shop, { externalId: 'twice', email: address, emailOptIn: true });
    await mailsTo(address);
    const first = (await requestOf(localId(id)))!;
    await until(async () => (await requestOf(localId(id)))?.sentAt != null, 'the first mail to be recorded');
    // Sent twice more, once at the same time as another: no new request, so no job and no mail.
    await Promise.all([upsert(shop, { externalId: 'twice', email: address, emailOptIn: true }), upsert(shop, { externalId: 'twice', emailOptIn: true })]);
    expect((await requestOf(localId(id)))!.requestedAt).toEqual(first.requestedAt);
    expect(smtp.to(address)).toHaveLength(1);

    // Ten minutes later the same form asks again.
    await h.kit.herald.prisma.emailConfirmation.update({ where: { contactId: localId(id) }, data: { requestedAt: new Date(first.requestedAt.getTime() - 11 * 60_000) } });
    await upsert(shop, { externalId: 'twice', emailOptIn: true });
    const mails = await mailsTo(address, 2);
    expect(linkIn(mails[1]!)).not.toBe(linkIn(mails[0]!));
    expect(smtp.to(address)).toHaveLength(2);
  });

  it('a link for an old address does nothing once the contact’s email changed; the new address gets its own', async () => {
    const old = unique('old');
    await upsert(shop, { externalId: 'mover', email: old, emailOptIn: true });
    const oldLink = linkIn((await mailsTo(old))[0]!);

    const moved = unique('new');
    await upsert(shop, { externalId: 'mover', email: moved });
    expect((await fetch(oldLink)).status).toBe(404);
    expect((await press(oldLink)).status).toBe(404);
    expect(await consentOf('mover')).toMatchObject({ email: moved, emailStatus: 'NONE' });

    // The opt-in for the new address, within the old one's window, mails the new address.
    await upsert(shop, { externalId: 'mover', email: moved, emailOptIn: true });
    const newLink = linkIn((await mailsTo(moved))[0]!);
    expect((await press(oldLink)).status).toBe(404);
    expect((await press(newLink)).status).toBe(200);
    expect(await consentOf('mover')).toMatchObject({ email: moved, emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });
  });

  it('a forged or expired link shows 404 / 410 and changes nothing; an opt-out after the mail wins over the older link', async () => {
    const address = unique('late');
    const { id } = await upsert(shop, { externalId: 'late', email: address, emailOptIn: true });
    const link = linkIn((await mailsTo(address))[0]!);

    // A changed character inside the MAC (the last one carries padding bits too).
    const at = link.length - 5;
    const forged = `${link.slice(0, at)}${link[at] === 'A' ? 'B' : 'A'}${link.slice(at + 1)}`;
    expect((await fetch(forged)).status).toBe(404);
    expect((await press(forged)).status).toBe(404);
    expect((await press(`${h.kit.url}/e/confirm/not-a-token`)).status).toBe(404);
    expect((await fetch(link, { method: 'PUT' })).status).toBe(405);

    // A link signed correctly 8 days ago (the links work for 7).
    const workspace = await h.kit.herald.prisma.workspace.findUniqueOrThrow({ where: { id: localId(shop.workspace.id) } });
    const secret = await secretFromRow(h.kit.herald, workspace, 'trackingSecret');
    const expired = signConfirmationToken({ contactId: localId(id), email: address, requestedAt: new Date(Date.now() - 8 * 24 * 3600_000) }, secret);
    const gone = await press(`${h.kit.url}/e/confirm/${expired}`);
    expect(gone.status).toBe(410);
    expect(await gone.text()).toContain('no longer valid');
    expect((await fetch(`${h.kit.url}/e/confirm/${expired}`)).status).toBe(410);
    expect(await consentOf('late')).toMatchObject({ emailStatus: 'NONE' });

    // The person unsubscribes before confirming: the older confirmation no longer subscribes.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await upsert(shop, { externalId: 'late', emailOptIn: false });
    expect((await press(link)).status).toBe(410);
    expect(await consentOf('late')).toMatchObject({ emailStatus: 'UNSUBSCRIBED', emailStatusSource: 'api' });
    // And changes their mind again at once: the overtaken request holds no window, a new link works.
    await upsert(shop, { externalId: 'late', emailOptIn: true });
    const again = linkIn((await mailsTo(address, 2))[1]!);
    expect((await press(again)).status).toBe(200);
    expect(await consentOf('late')).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });
  });

  it('no mail for an address that is BOUNCED or COMPLAINED; an UNSUBSCRIBED contact opting in again confirms like anyone', async () => {
    const dead = unique('dead');
    const { id } = await upsert(shop, { externalId: 'dead', email: dead });
    await h.kit.herald.prisma.contact.update({ where: { id: localId(id) }, data: { emailStatus: 'BOUNCED', emailStatusSource: 'bounce' } });
    await upsert(shop, { externalId: 'dead', emailOptIn: true });
    expect(await requestOf(localId(id))).toBeNull();
    expect(await consentOf('dead')).toMatchObject({ emailStatus: 'BOUNCED' });

    const back = unique('back');
    await upsert(shop, { externalId: 'back', email: back, emailOptIn: false });
    await upsert(shop, { externalId: 'back', emailOptIn: true });
    expect(await consentOf('back')).toMatchObject({ emailStatus: 'UNSUBSCRIBED' });
    expect((await press(linkIn((await mailsTo(back))[0]!))).status).toBe(200);
    expect(await consentOf('back')).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });
    expect(smtp.to(dead)).toHaveLength(0);
  });

  it('a signup form with the publishable key (identity verified) and an import ask for confirmation too', async () => {
    const address = unique('page');
    const identityToken = shop.publishable.identityTokenFor('page-1');
    const identified = dataOf(
      await shop.publishable(Identify, { input: { anonymousId: 'visitor-1', externalId: 'page-1', identityToken, attributes: { email: address }, emailOptIn: true } }),
    ).identifyContact;
    expect(identified.__typename).toBe('MutationIdentifyContactSuccess');
    expect(await consentOf('page-1')).toMatchObject({ email: address, emailStatus: 'NONE' });
    expect((await press(linkIn((await mailsTo(address))[0]!))).status).toBe(200);
    expect(await consentOf('page-1')).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'double-opt-in' });

    const [one, two] = [unique('imp-1'), unique('imp-2')];
    const imported = dataOf(
      await shop.secret(Import, { contacts: [{ externalId: 'imp-1', email: one, emailOptIn: true }, { externalId: 'imp-2', email: two, emailOptIn: true }] }),
    ).importContacts;
    expect(imported).toMatchObject({ data: { created: 2, failed: [] } });
    await mailsTo(one);
    await mailsTo(two);
    expect(await consentOf('imp-1')).toMatchObject({ emailStatus: 'NONE' });
  });

  it('a 4xx from the mail server is retried with backoff; a 5xx to the recipient bounces the address', async () => {
    smtp.failNext(1, 451, 'try again later');
    const address = unique('retry');
    await upsert(shop, { externalId: 'retry', email: address, emailOptIn: true });
    await mailsTo(address, 1, 30_000);
    expect(smtp.refused().some((refusal) => refusal.code === 451)).toBe(true);

    const rejected = unique('nobody');
    smtp.failRecipient(rejected, 550, 'no such user');
    try {
      const { id } = await upsert(shop, { externalId: 'nobody', email: rejected, emailOptIn: true });
      await until(async () => (await consentOf('nobody')).emailStatus === 'BOUNCED', 'the contact to bounce');
      expect(await consentOf('nobody')).toMatchObject({ emailStatus: 'BOUNCED', emailStatusSource: 'bounce' });
      expect((await requestOf(localId(id)))!.sentAt).toBeNull();
    } finally {
      smtp.clearFaults();
    }
  }, 45_000);
});

describe('with double opt-in off, or no way to send', () => {
  it('off: an opt-in subscribes at once, as before, and nothing is mailed', async () => {
    const plain = await workspaceWith({ fromAddress: 'news@plain.example' });
    const address = unique('direct');
    expect(await upsert(plain, { externalId: 'direct', email: address, emailOptIn: true })).toMatchObject({ emailStatus: 'SUBSCRIBED' });
    expect(await consentOf('direct', plain)).toMatchObject({ emailStatus: 'SUBSCRIBED', emailStatusSource: 'api' });
    const contact = await consentOf('direct', plain);
    expect(await requestOf(localId(contact.id))).toBeNull();
  });

  it('on, but no SMTP server: no mail, the opt-in stays unconfirmed, and the request is forgotten so a later try asks again', async () => {
    const mute = await workspaceWith({ fromAddress: 'news@mute.example', doubleOptIn: true }, false);
    const address = unique('mute');
    const { id } = await upsert(mute, { externalId: 'mute', email: address, emailOptIn: true });
    await until(async () => (await requestOf(localId(id))) === null, 'the job to give the request up');
    expect(await consentOf('mute', mute)).toMatchObject({ emailStatus: 'NONE' });
    expect(smtp.to(address)).toHaveLength(0);
  });
});
