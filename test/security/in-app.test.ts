/**
 * Issue 23: Query.inAppMessages widens what a publishable key reaches by the on-site messages
 * waiting for a visitor. A page reads its own visitor's and nobody else's: not another
 * anonymousId's, not a customer's without their identity token (nor through an anonymousId that
 * now belongs to that customer), not another workspace's; and the fields past the listed ones are
 * refused before anything runs.
 */
import { describe, expect, it } from 'vitest';
import { PUBLISHABLE_FIELDS } from '../../src/graphql/public-surface.ts';
import { schema } from '../../src/graphql/schema.ts';
import { postRaw } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';
import { createInApp, PENDING, pendingFor, recordEvent, sendNow, upsertContacts } from '../in-app/kit.ts';
import { probesFrom } from './walk.ts';

const CANARY = 'canary-9f3a';
/** The other workspace's messages carry their own canary: this workspace's key must never see it. */
const OTHER_CANARY = 'other-canary-51d0';
const allowed = new Set(Object.entries(PUBLISHABLE_FIELDS).flatMap(([type, fields]) => fields.map((field) => `${type}.${field}`)));

describe('a publishable key and on-site messages', { timeout: 90_000 }, () => {
  const h = useHerald({ HERALD_PUBLIC_RATE_LIMIT: '100000' }, { push: false });
  const shop = h.useWorkspace('Shop');
  const other = h.useWorkspace('Other shop');

  /** The victims (an anonymous visitor, a customer, the customer's own browser) and the attacker each get one message; only the victims' carry the canary. */
  async function seed(workspace: typeof shop, canary: string) {
    await upsertContacts(h.kit, workspace, [{ anonymousId: 'victim-anon' }, { externalId: 'victim-customer', anonymousId: 'victim-browser' }, { anonymousId: 'attacker' }]);
    const created = await createInApp(h.kit, workspace, {
      title: `{% if contact.anonymousId == "attacker" %}Yours{% else %}${canary} for {{ contact.externalId | default: contact.anonymousId }}{% endif %}`,
      buttons: [{ label: 'Open', url: `https://shop.example/${canary}` }],
    });
    const campaign = await sendNow(h.kit, workspace, created.data!.id);
    expect(campaign.stats.sent).toBe(3);
  }

  it('reads its visitor’s own messages and no one else’s, by any name, token or key', async () => {
    await seed(shop, CANARY);
    await seed(other, OTHER_CANARY);
    const page = (key: string, variables: Record<string, unknown>) => postRaw(h.kit.graphqlUrl, key, PENDING, variables);

    // The positive controls: each visitor reaches their own, with their proof.
    expect((await pendingFor(h.kit, shop, { anonymousId: 'attacker' })).messages.map((m) => m.title)).toEqual(['Yours']);
    expect((await pendingFor(h.kit, shop, { anonymousId: 'victim-anon' })).messages.map((m) => m.title)).toEqual([`${CANARY} for victim-anon`]);
    const token = shop.publishable.identityTokenFor('victim-customer');
    expect((await pendingFor(h.kit, shop, { externalId: 'victim-customer', identityToken: token })).messages).toHaveLength(1);

    const wrongTokens = [undefined, '', 'f'.repeat(64), shop.publishable.identityTokenFor('attacker'), token.slice(0, 63), `${token}0`, other.publishable.identityTokenFor('victim-customer')];
    const attacks: [string, Record<string, unknown>][] = [
      // Other anonymous visitors: guessed, wildcard and injection-shaped ids name nobody.
      ...['victim', 'victim-anon%', '%', '*', "victim-anon' OR '1'='1", 'VICTIM-ANON', 'victim-anon\u0000', 'attacker"}'].map((anonymousId): [string, Record<string, unknown>] => [shop.publishableKey, { anonymousId }]),
      // The customer's own browser id: with verification on, a customer's messages need their token.
      [shop.publishableKey, { anonymousId: 'victim-browser' }],
      // The customer without a valid identity token.
      ...wrongTokens.map((identityToken): [string, Record<string, unknown>] => [shop.publishableKey, { externalId: 'victim-customer', identityToken }]),
      // Two names at once: the attacker's own id cannot carry the victim's.
      [shop.publishableKey, { anonymousId: 'attacker', externalId: 'victim-customer' }],
      [shop.publishableKey, {}],
      // Another workspace's key, with the victims' ids and the valid token of this workspace.
      [other.publishableKey, { anonymousId: 'victim-browser' }],
      [other.publishableKey, { externalId: 'victim-customer', identityToken: token }],
    ];
    let refused = 0;
    for (const [key, variables] of attacks) {
      const { text } = await page(key, variables);
      expect(text, JSON.stringify(variables)).not.toContain(CANARY);
      if (key === shop.publishableKey) expect(text).not.toContain(OTHER_CANARY);
      refused++;
    }
    // A token of another workspace's message records nothing here.
    const foreign = (await pendingFor(h.kit, other, { anonymousId: 'attacker' })).messages[0]!.token;
    const forged = await postRaw(h.kit.graphqlUrl, shop.publishableKey, `mutation($t: String!) { recordMessageEvent(input: { token: $t, type: CLOSED }) { __typename } }`, { t: foreign });
    expect(forged.body.data!.recordMessageEvent.__typename).toBe('NotFoundError');
    refused++;
    expect((await pendingFor(h.kit, other, { anonymousId: 'attacker' })).messages).toHaveLength(1);
    // The attacker's own close works, and only on their own message.
    expect(await recordEvent(h.kit, shop.publishableKey, (await pendingFor(h.kit, shop, { anonymousId: 'attacker' })).messages[0]!.token, 'CLOSED')).toBe('MutationRecordMessageEventSuccess');
    expect((await pendingFor(h.kit, shop, { anonymousId: 'victim-anon' })).messages).toHaveLength(1);
    tally({ check: 'security: publishable key reads only its own visitor’s on-site messages', inputs: attacks.length + 1, attacks: refused, leaks: 0 });
  });

  it('refuses every field past the listed ones, reached from inAppMessages', async () => {
    let probes = 0;
    let refused = 0;
    for (const probe of probesFrom(schema, 'query', 'inAppMessages', '(anonymousId: $a)', '($a: String)')) {
      probes++;
      const { text, body } = await postRaw(h.kit.graphqlUrl, shop.publishableKey, probe.query, { a: 'victim-anon' });
      const codes = (body.errors ?? []).map((error) => error.extensions?.code);
      if (probe.path.every((coordinate) => allowed.has(coordinate))) {
        expect(codes, `${probe.path.join(' > ')}: ${text}`).not.toContain('FORBIDDEN');
      } else {
        expect(new Set(codes), `${probe.path.join(' > ')}: ${text}`).toEqual(new Set(['FORBIDDEN']));
        refused++;
      }
    }
    // Every field of InAppMessage, InAppButton and Question is listed: nothing leads elsewhere.
    expect(probes).toBeGreaterThanOrEqual(14);
    expect(refused).toBe(0);
    tally({ check: 'security: publishable key walked from inAppMessages', inputs: probes, attacks: refused, leaks: 0 });
  });
});
