import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { deviceToken, registerDevice } from '../kit/mobile.ts';

const Register = graphql(`
  mutation DevicesRegister($input: MutationRegisterDeviceInput!) {
    registerDevice(input: $input) {
      __typename
      ... on MutationRegisterDeviceSuccess { data { id platform token status appId locale timezone appVersion } }
      ... on ValidationError { code fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const Revoke = graphql(`
  mutation DevicesRevoke($token: String!) {
    revokeDevice(input: { token: $token }) {
      __typename
      ... on MutationRevokeDeviceSuccess { data { id status revokedAt } }
      ... on Error { code message }
    }
  }
`);

const ContactDevices = graphql(`
  query DevicesOfContact($externalId: String!) {
    contact(externalId: $externalId) { consentedAt tags timezone devices { platform token status appId appVersion } }
  }
`);

const Identify = graphql(`
  mutation DevicesIdentify($input: MutationIdentifyContactInput!) {
    identifyContact(input: $input) { __typename ... on Error { code message } }
  }
`);

describe('registerDevice and revokeDevice', () => {
  const h = useHerald({}, { push: false });
  const shop = h.useWorkspace();

  it('an app registers a phone for a customer with the identity token, and the contact lists it with consent recorded', async () => {
    const token = deviceToken('IOS');
    const input = { platform: 'IOS' as const, token: token.toUpperCase(), appId: 'com.shop.app', externalId: 'ada', identityToken: shop.publishable.identityTokenFor('ada'), timezone: 'Europe/Warsaw', locale: 'pl-PL', appVersion: '2.3.1' };
    const result = dataOf(await shop.publishable(Register, { input })).registerDevice;
    expect(result).toMatchObject({ __typename: 'MutationRegisterDeviceSuccess', data: { platform: 'IOS', token, status: 'ACTIVE', appId: 'com.shop.app', timezone: 'Europe/Warsaw', appVersion: '2.3.1' } });
    const contact = dataOf(await shop.secret(ContactDevices, { externalId: 'ada' })).contact!;
    expect(contact.devices).toEqual([{ platform: 'IOS', token, status: 'ACTIVE', appId: 'com.shop.app', appVersion: '2.3.1' }]);
    expect(contact.consentedAt).not.toBeNull();
    expect(contact.tags).toContain('consented');
    expect(contact.timezone).toBe('Europe/Warsaw');
  });

  it('an app naming a customer without a valid identity token is refused and nothing is stored', async () => {
    const token = deviceToken('ANDROID');
    for (const identityToken of [undefined, 'ab'.repeat(32)]) {
      const result = dataOf(await shop.publishable(Register, { input: { platform: 'ANDROID', token, appId: 'com.shop.app', externalId: 'grace', identityToken } })).registerDevice;
      expect(result.__typename).toBe('ValidationError');
      if (result.__typename === 'ValidationError') expect(result.fieldErrors[0]!.path).toEqual(['input', 'identityToken']);
    }
    expect(dataOf(await shop.secret(ContactDevices, { externalId: 'grace' })).contact).toBeNull();
    // The site's backend (secret key) needs no token; an anonymous app user needs none either.
    await registerDevice(shop.secret, { platform: 'ANDROID', token, externalId: 'grace' });
    await registerDevice(shop.publishable, { platform: 'ANDROID', anonymousId: 'anon-phone-1' });
    expect(dataOf(await shop.secret(ContactDevices, { externalId: 'grace' })).contact!.devices.map((device) => device.token)).toEqual([token]);
  });

  it('refuses malformed input with paths and stores nothing', async () => {
    const cases = [
      [{ platform: 'IOS', token: 'not-hex', appId: 'com.shop.app', anonymousId: 'x1' }, ['input', 'token']],
      [{ platform: 'ANDROID', token: 'short', appId: 'com.shop.app', anonymousId: 'x1' }, ['input', 'token']],
      [{ platform: 'IOS', token: deviceToken('IOS'), appId: 'bad app id!', anonymousId: 'x1' }, ['input', 'appId']],
      [{ platform: 'IOS', token: deviceToken('IOS'), appId: 'com.shop.app' }, ['input', 'contactId']],
      [{ platform: 'IOS', token: deviceToken('IOS'), appId: 'com.shop.app', anonymousId: 'x1', locale: 'not a locale!' }, ['input', 'locale']],
    ] as const;
    for (const [input, path] of cases) {
      const result = dataOf(await shop.publishable(Register, { input } as never)).registerDevice;
      expect(result.__typename).toBe('ValidationError');
      if (result.__typename === 'ValidationError') expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    }
  });

  it('a token registered again moves to the new contact and is active again after a revoke', async () => {
    const token = deviceToken('IOS');
    await registerDevice(shop.secret, { platform: 'IOS', token, externalId: 'first-owner' });
    const revoked = dataOf(await shop.publishable(Revoke, { token })).revokeDevice;
    expect(revoked).toMatchObject({ __typename: 'MutationRevokeDeviceSuccess', data: { status: 'REVOKED' } });
    // Revoking twice is not an error; an unknown token is.
    expect(dataOf(await shop.publishable(Revoke, { token })).revokeDevice.__typename).toBe('MutationRevokeDeviceSuccess');
    expect(dataOf(await shop.publishable(Revoke, { token: deviceToken('IOS') })).revokeDevice).toMatchObject({ code: 'device/not_found' });
    await registerDevice(shop.secret, { platform: 'IOS', token, externalId: 'second-owner' });
    expect(dataOf(await shop.secret(ContactDevices, { externalId: 'first-owner' })).contact!.devices).toEqual([]);
    expect(dataOf(await shop.secret(ContactDevices, { externalId: 'second-owner' })).contact!.devices).toMatchObject([{ token, status: 'ACTIVE' }]);
  });

  it("an anonymous app user's phone stays theirs when they sign in as a customer Herald already knows", async () => {
    const token = deviceToken('ANDROID');
    await registerDevice(shop.secret, { platform: 'ANDROID', token: deviceToken('ANDROID'), externalId: 'known-customer' });
    await registerDevice(shop.publishable, { platform: 'ANDROID', token, anonymousId: 'app-install-7' });
    // The visitor's contact merges into the known one and is deleted: its phone must move, not go with it.
    const identified = dataOf(await shop.secret(Identify, { input: { anonymousId: 'app-install-7', externalId: 'known-customer' } })).identifyContact;
    expect(identified.__typename).toBe('MutationIdentifyContactSuccess');
    const devices = dataOf(await shop.secret(ContactDevices, { externalId: 'known-customer' })).contact!.devices;
    expect(devices.map((device) => device.token)).toContain(token);
    expect(devices).toHaveLength(2);
  });

  it('a token of one workspace is not found from another', async () => {
    const other = await h.workspace('Other shop');
    const token = deviceToken('ANDROID');
    await registerDevice(shop.secret, { platform: 'ANDROID', token, externalId: 'cross' });
    expect(dataOf(await other.secret(Revoke, { token })).revokeDevice).toMatchObject({ code: 'device/not_found' });
    expect(dataOf(await shop.secret(ContactDevices, { externalId: 'cross' })).contact!.devices).toMatchObject([{ status: 'ACTIVE' }]);
  });
});
