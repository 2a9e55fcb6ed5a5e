import { describe, expect, it } from 'vitest';
import { prepareBroadcast } from '../../src/delivery/prepare.ts';
import { resolveZone } from '../../src/workspaces/settings.ts';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Messages = graphql(`
  query TimeZonesMessages($id: ID!) {
    campaign(id: $id) { messages(first: 100) { edges { node { status reason error contact { anonymousId } } } } }
  }
`);

const Schedule = graphql(`
  mutation TimeZonesSchedule($id: ID!, $sendAt: DateTime!) {
    scheduleCampaign(input: { id: $id, sendAt: $sendAt, localTime: true }) { __typename ... on Error { message } }
  }
`);

const h = useHerald({ HERALD_PUSH_RETRY_BASE_MS: '50' });
const content = { title: 'News', body: 'Something new', url: 'https://shop.example/' };
const hhmm = (date: Date) => date.toISOString().slice(11, 16);
const localIdOf = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1]!;

describe('time zone names', () => {
  it('keeps only zones delivery can compute with, by their canonical name', () => {
    // ICU's three-letter IDs: Intl reads them (BST as Bangladesh), Temporal refuses them.
    for (const name of ['PST', 'IST', 'BST', 'CST', 'JST', 'EAT']) expect(resolveZone(name), name).toBeNull();
    expect(resolveZone('europe/berlin')).toBe('Europe/Berlin');
    expect(resolveZone('US/Pacific')).toBe('America/Los_Angeles');
    // Names PostgreSQL would read as abbreviations (CET as a fixed +01:00) become Area/Location names.
    expect(resolveZone('CET')).toBe('Europe/Brussels');
    expect(resolveZone('Etc/UTC')).toBe('UTC');
    expect(resolveZone('Nowhere/Land')).toBeUndefined();
    expect(resolveZone('+01:00')).toBeUndefined();
  });

  it('drops a zone a visitor’s browser reports that delivery cannot use, and registers the browser', async () => {
    const { publishable } = await h.workspace();
    await subscribeBrowser(publishable, h.push, { anonymousId: 'pst', timezone: 'PST' });
    await subscribeBrowser(publishable, h.push, { anonymousId: 'lower', timezone: 'europe/berlin' });
    const stored = await h.kit.herald.prisma.contact.findMany({ where: { anonymousId: { in: ['pst', 'lower'] } }, select: { anonymousId: true, timezone: true, pushSubscriptions: { select: { timezone: true } } } });
    expect(Object.fromEntries(stored.map((contact) => [contact.anonymousId, [contact.timezone, contact.pushSubscriptions[0]!.timezone]]))).toEqual({
      pst: [null, null],
      lower: ['Europe/Berlin', 'Europe/Berlin'],
    });
  });

  it('sends a windowed broadcast to everyone when one row has a zone stored before names were checked (judged in the workspace’s zone)', async () => {
    const { secret, publishable } = await h.workspace(); // UTC
    const others = await Promise.all(
      Array.from({ length: 8 }, async (_, index) => (await subscribeBrowser(publishable, h.push, { anonymousId: `berlin${index}`, timezone: 'Europe/Berlin' })).browser),
    );
    const { browser: legacy, subscriptionId } = await subscribeBrowser(publishable, h.push, { anonymousId: 'legacy' });
    // As an older Herald stored it: the zone Temporal refuses, on the contact and the browser.
    await h.kit.herald.prisma.$executeRaw`UPDATE "Contact" SET timezone = 'PST' WHERE "anonymousId" = 'legacy'`;
    await h.kit.herald.prisma.$executeRaw`UPDATE "PushSubscription" SET timezone = 'PST' WHERE id = ${localIdOf(subscriptionId)}::uuid`;
    // Open now in UTC and in Berlin (UTC+1 or +2); in Los Angeles it may well be closed.
    const now = Date.now();
    const deliveryWindow = { start: hhmm(new Date(now - 3 * 3600_000)), end: hhmm(new Date(now + 3 * 3600_000)) };
    const id = await createCampaign(secret, { name: 'Windowed', kind: 'BROADCAST', content, deliveryWindow });
    await secret(SendNow, { id });
    await h.push.waitFor(() => [...others, legacy].every((browser) => h.push.received(browser.id).length === 1), 15_000);
    await waitForStatus(secret, id);
    const rows = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    expect(rows).toHaveLength(9);
    for (const row of rows) expect(row).toMatchObject({ status: 'SENT', reason: 'ACCEPTED' });
  }, 30_000);

  it('makes a local-time broadcast due when the recipient’s zone reads sendAt’s wall clock, as delivery windows read it', async () => {
    const { secret, publishable } = await h.workspace(); // UTC
    await subscribeBrowser(publishable, h.push, { anonymousId: 'berlin', timezone: 'Europe/Berlin' });
    await subscribeBrowser(publishable, h.push, { anonymousId: 'kolkata', timezone: 'Asia/Kolkata' });
    await subscribeBrowser(publishable, h.push, { anonymousId: 'legacy' });
    // Stored by an older Herald: India to Intl, Israel to PostgreSQL, refused by Temporal.
    await h.kit.herald.prisma.$executeRaw`UPDATE "Contact" SET timezone = 'IST' WHERE "anonymousId" = 'legacy'`;
    const id = await createCampaign(secret, { name: 'Night owls', kind: 'BROADCAST', content });
    // 02:30 on the night Europe/Berlin's clocks go back: 02:30 comes twice there.
    const sendAt = '2027-10-31T02:30:00.000Z';
    expect(dataOf(await secret(Schedule, { id, sendAt })).scheduleCampaign.__typename).toBe('MutationScheduleCampaignSuccess');
    // Its preparation is planned for a year from now: run it as its job would.
    const campaign = await h.kit.herald.prisma.campaign.update({ where: { id: localIdOf(id) }, data: { status: 'SENDING' } });
    await prepareBroadcast(h.kit.herald, campaign);
    const rows = await h.kit.herald.prisma.message.findMany({ where: { campaignId: campaign.id }, select: { scheduledFor: true, contact: { select: { anonymousId: true } } } });
    expect(Object.fromEntries(rows.map((row) => [row.contact.anonymousId, row.scheduledFor?.toISOString()]))).toEqual({
      berlin: '2027-10-31T00:30:00.000Z', // the first 02:30 (CEST), where a window opening at 02:30 opens
      kolkata: '2027-10-30T21:00:00.000Z',
      legacy: sendAt, // the workspace's zone stands in, as for its delivery window
    });
  });
});
