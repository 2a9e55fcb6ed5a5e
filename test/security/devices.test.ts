/**
 * Issue 25: registerDevice and revokeDevice widen the publishable surface by two mutations and the
 * Device type. An app (publishable key) sees only the device it registered: every field reachable
 * from those mutations outside PUBLISHABLE_FIELDS is refused before anything runs, nothing leads
 * from the device to its contact or to anyone else's devices, and naming a customer needs the
 * identity token.
 */
import { describe, expect, it } from 'vitest';
import { PUBLISHABLE_FIELDS } from '../../src/graphql/public-surface.ts';
import { schema } from '../../src/graphql/schema.ts';
import { useHerald } from '../kit/fixture.ts';
import { deviceToken, registerDevice } from '../kit/mobile.ts';
import { tally } from '../kit/tally.ts';
import { probesFrom } from './walk.ts';

const allowed = new Set(Object.entries(PUBLISHABLE_FIELDS).flatMap(([type, fields]) => fields.map((field) => `${type}.${field}`)));

describe('a publishable key and phone devices', () => {
  const h = useHerald({ HERALD_PUBLIC_RATE_LIMIT: '100000' }, { push: false });
  const shop = h.useWorkspace();

  async function asPage(query: string, variables: Record<string, unknown>) {
    const response = await fetch(h.kit.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.publishableKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    return { text, body: JSON.parse(text) as { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] } };
  }

  it('reaches the device it registered and nothing more: not its contact, not the victim’s devices', async () => {
    const victim = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'victim-7c1e', appId: 'com.victim.canary' });
    const mine = deviceToken('ANDROID');
    const roots = [
      ['registerDevice', '($input: MutationRegisterDeviceInput!)', { input: { platform: 'ANDROID', token: mine, appId: 'com.shop.app', anonymousId: 'attacker-phone' } }],
      ['revokeDevice', '($input: MutationRevokeDeviceInput!)', { input: { token: mine } }],
    ] as const;
    let probes = 0;
    let refused = 0;
    for (const [field, variables, values] of roots) {
      for (const probe of probesFrom(schema, 'mutation', field, '(input: $input)', variables)) {
        probes++;
        const { text, body } = await asPage(probe.query, values);
        expect(text).not.toContain(victim.token);
        expect(text).not.toContain('victim-7c1e');
        expect(text).not.toContain('com.victim.canary');
        const codes = (body.errors ?? []).map((error) => error.extensions?.code);
        if (probe.path.every((coordinate) => allowed.has(coordinate))) {
          expect(codes, `${probe.path.join(' > ')}: ${text}`).not.toContain('FORBIDDEN');
        } else {
          expect(new Set(codes), `${probe.path.join(' > ')}: ${text}`).toEqual(new Set(['FORBIDDEN']));
          expect(body.data ?? null).toBeNull();
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(20); // Device.contact > … and every Contact field past the public ones
    tally({ check: 'security: publishable key walked from registerDevice and revokeDevice', inputs: probes, attacks: refused, leaks: 0 });
  });

  it('a refused selection registers nothing', async () => {
    const token = deviceToken('IOS');
    const { body } = await asPage(
      `mutation($input: MutationRegisterDeviceInput!) { registerDevice(input: $input) { ... on MutationRegisterDeviceSuccess { data { id contact { id devices { token } } } } } }`,
      { input: { platform: 'IOS', token, appId: 'com.shop.app', anonymousId: 'sneaky' } },
    );
    expect(body.errors!.map((error) => error.message)).toEqual(['A publishable key may not read Device.contact']);
    const revoke = await asPage(`mutation($token: String!) { revokeDevice(input: { token: $token }) { __typename ... on Error { code } } }`, { token });
    expect(revoke.body.data!.revokeDevice).toEqual({ __typename: 'NotFoundError', code: 'device/not_found' });
  });

  it('cannot attach a phone to a customer, by externalId or contactId, without the identity token', async () => {
    const victim = await registerDevice(shop.secret, { platform: 'IOS', externalId: 'victim-2' });
    const named = [{ externalId: 'victim-2' }, { externalId: 'victim-2', identityToken: 'f'.repeat(64) }];
    for (const who of named) {
      const { body } = await asPage(
        `mutation($input: MutationRegisterDeviceInput!) { registerDevice(input: $input) { __typename ... on ValidationError { code fieldErrors { path } } } }`,
        { input: { platform: 'ANDROID', token: deviceToken('ANDROID'), appId: 'com.shop.app', ...who } },
      );
      expect(body.data!.registerDevice).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'identityToken'] }] });
    }
    expect(victim.status).toBe('ACTIVE');
  });
});
