/**
 * Template data for every channel (issue 18, found failing for push): a page identifies a visitor
 * with `{ firstName: 'Fox' }`, and a push titled `Hello {{ contact.firstName }}` must say
 * "Hello Fox". Before the fix the name stayed in attributes and the empty firstName column hid it,
 * so the push said "Hello ".
 */
import { describe, expect, it } from 'vitest';
import { templateContact } from '../../src/delivery/contact-scope.ts';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Identify = graphql(`
  mutation TemplateIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on Error { code message } }
  }
`);
const Profile = graphql(`
  query TemplateProfile($externalId: String!) {
    contact(externalId: $externalId) { id firstName lastName email locale timezone attributes }
  }
`);

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50', HERALD_PUSH_TIMEOUT_MS: '1000' });

describe('known fields given to identify', () => {
  it('land in the contact’s columns, not in attributes, and personalise a push', async () => {
    const { secret, publishable } = await h.workspace();
    const browser = await subscribeBrowser(publishable, h.push, { anonymousId: 'visitor-fox' });
    const identified = dataOf(
      await publishable(Identify, {
        input: {
          anonymousId: 'visitor-fox',
          externalId: 'u-1',
          identityToken: publishable.identityTokenFor('u-1'),
          attributes: { firstName: 'Fox', locale: 'pl-PL', timezone: 'Europe/Warsaw', plan: 'gold' },
        },
      }),
    ).identifyContact;
    expect(identified.__typename).toBe('MutationIdentifyContactSuccess');
    expect(dataOf(await secret(Profile, { externalId: 'u-1' })).contact).toMatchObject({
      firstName: 'Fox',
      locale: 'pl-PL',
      timezone: 'Europe/Warsaw',
      attributes: { plan: 'gold' },
    });
    expect(Object.keys(dataOf(await secret(Profile, { externalId: 'u-1' })).contact!.attributes as object)).toEqual(['plan']);

    const id = await createCampaign(secret, {
      name: 'Greeting',
      kind: 'BROADCAST',
      content: { title: 'Hello {{ contact.firstName }}', body: 'Your {{ contact.plan }} plan', url: 'https://shop.example/' },
    });
    await secret(SendNow, { id });
    expect((await waitForStatus(secret, id)).stats).toMatchObject({ sent: 1, failed: 0 });
    const [push] = h.push.received(browser.browser.id);
    expect(push!.json).toMatchObject({ title: 'Hello Fox', body: 'Your gold plan' });
  });

  it('an attribute named like an empty field is not hidden by it', async () => {
    const { secret, publishable } = await h.workspace();
    const browser = await subscribeBrowser(publishable, h.push, { externalId: 'legacy' });
    // A contact stored before identify moved known fields to their columns: its name is an
    // attribute and its lastName column is empty.
    await h.kit.herald.prisma.contact.updateMany({
      where: { externalId: 'legacy' },
      data: { attributes: { lastName: 'Vulpes', firstName: 'Attribute' }, firstName: 'Column' },
    });
    const id = await createCampaign(secret, {
      name: 'Legacy greeting',
      kind: 'BROADCAST',
      content: { title: 'Dear {{ contact.firstName }} {{ contact.lastName }}', body: '{{ contact.attributes.firstName }}', url: 'https://shop.example/' },
    });
    await secret(SendNow, { id });
    expect((await waitForStatus(secret, id)).stats).toMatchObject({ sent: 1 });
    // The column wins where it has a value; the attribute shows where the column is empty.
    expect(h.push.received(browser.browser.id)[0]!.json).toMatchObject({ title: 'Dear Column Vulpes', body: 'Attribute' });
  });
});

describe('templateContact', () => {
  it('puts the contact’s own fields over its attributes, except those that are null or missing', () => {
    const contact = {
      id: 'c-1',
      externalId: 'u-1',
      firstName: null,
      lastName: 'Column',
      email: undefined,
      tags: ['vip'],
      attributes: { firstName: 'Fox', lastName: 'Attribute', email: 'fox@example.com', id: 'forged', city: 'Warsaw' },
    };
    expect(templateContact(contact)).toEqual({
      id: 'c-1',
      externalId: 'u-1',
      firstName: 'Fox',
      lastName: 'Column',
      email: 'fox@example.com',
      city: 'Warsaw',
      tags: ['vip'],
      attributes: contact.attributes,
    });
  });

  it('takes a contact without attributes, or with attributes that are not an object', () => {
    expect(templateContact({ id: 'c-2', firstName: 'Ada' })).toEqual({ id: 'c-2', firstName: 'Ada' });
    expect(templateContact({ id: 'c-3', attributes: ['a'] })).toEqual({ id: 'c-3', attributes: ['a'] });
  });
});
