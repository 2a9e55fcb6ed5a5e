import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { campaignState, CreateCampaign, createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Update = graphql(`
  mutation LifecycleUpdate($input: UpdateCampaignInput!) {
    updateCampaign(input: $input) {
      __typename
      ... on MutationUpdateCampaignSuccess { data { name content { title } } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const Schedule = graphql(`
  mutation LifecycleSchedule($id: ID!, $sendAt: DateTime!, $localTime: Boolean) {
    scheduleCampaign(input: { id: $id, sendAt: $sendAt, localTime: $localTime }) {
      __typename
      ... on MutationScheduleCampaignSuccess { data { status schedule { sendAt localTime } } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);

const Pause = graphql(`
  mutation LifecyclePause($id: ID!) {
    pauseCampaign(input: { id: $id }) { __typename ... on MutationPauseCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const Resume = graphql(`
  mutation LifecycleResume($id: ID!) {
    resumeCampaign(input: { id: $id }) { __typename ... on MutationResumeCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const Cancel = graphql(`
  mutation LifecycleCancel($id: ID!) {
    cancelCampaign(input: { id: $id }) { __typename ... on MutationCancelCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const Archive = graphql(`
  mutation LifecycleArchive($id: ID!) {
    archiveCampaign(input: { id: $id }) { __typename ... on MutationArchiveCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const Duplicate = graphql(`
  mutation LifecycleDuplicate($id: ID!) {
    duplicateCampaign(input: { id: $id }) {
      __typename
      ... on MutationDuplicateCampaignSuccess { data { id name status content { title url } } }
      ... on Error { code message }
    }
  }
`);
const Activate = graphql(`
  mutation LifecycleActivate($id: ID!) {
    activateCampaign(input: { id: $id }) { __typename ... on MutationActivateCampaignSuccess { data { status } } ... on Error { code message } }
  }
`);
const List = graphql(`
  query LifecycleList($status: [CampaignStatus!], $kind: CampaignKind) {
    campaigns(first: 50, status: $status, kind: $kind) { totalCount edges { node { name status kind } } }
  }
`);
const Messages = graphql(`
  query LifecycleMessages($id: ID!) {
    campaign(id: $id) { messages(first: 100) { edges { node { status reason scheduledFor contact { externalId } } } } }
  }
`);

const CreateSegment = graphql(`
  mutation LifecycleSegment($rule: SegmentRuleInput!) {
    createSegment(input: { name: "Gold", rule: $rule, audience: IDENTIFIED }) { ... on MutationCreateSegmentSuccess { data { id } } }
  }
`);
const DeleteSegment = graphql(`
  mutation LifecycleDeleteSegment($id: ID!) {
    deleteSegment(input: { id: $id }) { __typename ... on Error { code message } }
  }
`);
const Audience = graphql(`
  query LifecycleAudience($id: ID!) {
    campaign(id: $id) { audience { segment { id } rule type } }
  }
`);

const h = useHerald({ HERALD_PUSH_CONCURRENCY: '2' });


const content = { title: 'Hello', url: 'https://shop.example/' };

describe('campaign input', () => {
  it('refuses bad templates, URLs, actions and oversized pushes with the path of each problem, saving nothing', async () => {
    const { secret } = await h.workspace();
    const result = dataOf(
      await secret(CreateCampaign, {
        input: {
          name: ' ',
          kind: 'BROADCAST',
          content: {
            title: 'Hi {{ contact.firstName ',
            url: '/relative',
            imageUrl: 'ftp://cdn.example/a.png',
            actions: [{ action: 'a', title: 'A' }, { action: 'b', title: 'B' }, { action: 'c', title: 'C' }],
            ttlSeconds: -1,
            topic: 'not a topic!',
          },
        },
      }),
    ).createCampaign;
    expect(result.__typename).toBe('ValidationError');
    const paths = result.__typename === 'ValidationError' ? result.fieldErrors.map((error) => error.path.join('.')) : [];
    expect(paths).toEqual(
      expect.arrayContaining(['input.name', 'input.content.title', 'input.content.url', 'input.content.imageUrl', 'input.content.actions', 'input.content.ttlSeconds', 'input.content.topic']),
    );

    const tooLarge = dataOf(
      await secret(CreateCampaign, { input: { name: 'Big', kind: 'BROADCAST', content: { title: 'x', body: '{{ contact.firstName }}'.repeat(43), url: `https://shop.example/?q=${'{{ contact.email }}'.repeat(20)}` } } }),
    ).createCampaign;
    expect(tooLarge).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'content'] }] });
    expect(tooLarge.__typename === 'ValidationError' && tooLarge.fieldErrors[0]!.message).toMatch(/4096/);

    const triggered = dataOf(await secret(CreateCampaign, { input: { name: 'T', kind: 'TRIGGERED', content } })).createCampaign;
    expect(triggered).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'trigger'] }] });
    expect(dataOf(await secret(List, { status: null })).campaigns.totalCount).toBe(0);
  });
});

describe('campaign lifecycle', () => {
  it('edits only DRAFT and SCHEDULED campaigns, duplicates, archives, and refuses illegal moves with a ConflictError', async () => {
    const { secret, publishable } = await h.workspace();
    await subscribeBrowser(publishable, h.push, { externalId: 'x' });
    const id = await createCampaign(secret, { name: 'Launch', kind: 'BROADCAST', content });
    expect(dataOf(await secret(Update, { input: { id, name: 'Launch v2', content: { ...content, title: 'Hi again' } } })).updateCampaign).toMatchObject({
      data: { name: 'Launch v2', content: { title: 'Hi again' } },
    });
    expect(dataOf(await secret(Activate, { id })).activateCampaign).toMatchObject({ __typename: 'ValidationError' });
    expect(dataOf(await secret(Archive, { id })).archiveCampaign).toMatchObject({ data: { status: 'ARCHIVED' } });
    expect(dataOf(await secret(Update, { input: { id, name: 'Too late' } })).updateCampaign).toMatchObject({
      __typename: 'ConflictError',
      code: 'campaign/illegal_transition',
    });
    const copy = dataOf(await secret(Duplicate, { id })).duplicateCampaign;
    expect(copy).toMatchObject({ data: { name: 'Launch v2 (copy)', status: 'DRAFT', content: { title: 'Hi again', url: content.url } } });

    const copyId = copy.__typename === 'MutationDuplicateCampaignSuccess' ? copy.data.id : '';
    await secret(SendNow, { id: copyId });
    await waitForStatus(secret, copyId);
    for (const result of [
      dataOf(await secret(SendNow, { id: copyId })).sendCampaignNow,
      dataOf(await secret(Pause, { id: copyId })).pauseCampaign,
      dataOf(await secret(Cancel, { id: copyId })).cancelCampaign,
      dataOf(await secret(Update, { input: { id: copyId, name: 'No' } })).updateCampaign,
    ]) {
      expect(result).toMatchObject({ __typename: 'ConflictError', code: 'campaign/illegal_transition' });
    }
    const lists = dataOf(await secret(List, { status: null })).campaigns;
    expect(lists.edges.map((edge) => edge.node)).toEqual([{ name: 'Launch v2 (copy)', status: 'SENT', kind: 'BROADCAST' }]);
    expect(dataOf(await secret(List, { status: ['ARCHIVED'] })).campaigns.totalCount).toBe(1);
  });

  it('sends a scheduled campaign at its time, not before', async () => {
    const { secret, publishable } = await h.workspace();
    const { browser } = await subscribeBrowser(publishable, h.push, { externalId: 'later' });
    const id = await createCampaign(secret, { name: 'Later', kind: 'BROADCAST', content });
    const sendAt = new Date(Date.now() + 2_000);
    expect(dataOf(await secret(Schedule, { id, sendAt: new Date(Date.now() - 3_600_000).toISOString() })).scheduleCampaign).toMatchObject({
      __typename: 'ValidationError',
    });
    expect(dataOf(await secret(Schedule, { id, sendAt: sendAt.toISOString() })).scheduleCampaign).toMatchObject({
      data: { status: 'SCHEDULED', schedule: { localTime: false } },
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(h.push.received(browser.id)).toHaveLength(0);
    await h.push.waitFor(() => h.push.received(browser.id).length === 1, 15_000);
    expect(h.push.received(browser.id)[0]!.receivedAt).toBeGreaterThanOrEqual(sendAt.getTime());
    await waitForStatus(secret, id);
  });

  it("with localTime, sends at sendAt's wall-clock time in each recipient's zone", async () => {
    const { secret, publishable } = await h.workspace(); // workspace zone: UTC
    const tokyo = await subscribeBrowser(publishable, h.push, { externalId: 'tokyo', timezone: 'Asia/Tokyo' });
    const utc = await subscribeBrowser(publishable, h.push, { externalId: 'utc', timezone: 'UTC' });
    await subscribeBrowser(publishable, h.push, { externalId: 'ny', timezone: 'America/New_York' });
    const id = await createCampaign(secret, { name: 'Morning', kind: 'BROADCAST', content });
    const sendAt = new Date(Math.ceil((Date.now() + 3_000) / 1000) * 1000);
    await secret(Schedule, { id, sendAt: sendAt.toISOString(), localTime: true });

    // Tokyo's wall clock passed that time nine hours ago: it goes at once; UTC's comes at sendAt.
    await h.push.waitFor(() => h.push.received(tokyo.browser.id).length === 1, 10_000);
    expect(h.push.received(utc.browser.id)).toHaveLength(0);
    await h.push.waitFor(() => h.push.received(utc.browser.id).length === 1, 10_000);
    expect(h.push.received(utc.browser.id)[0]!.receivedAt).toBeGreaterThanOrEqual(sendAt.getTime());

    const rows = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    const due = (name: string) => new Date(rows.find((row) => row.contact.externalId === name)!.scheduledFor).getTime();
    expect(due('utc')).toBe(sendAt.getTime());
    expect(due('tokyo')).toBe(sendAt.getTime() - 9 * 3600_000);
    const nyOffset = -new Date(sendAt.toLocaleString('en-US', { timeZone: 'America/New_York' })).getTime() + new Date(sendAt.toLocaleString('en-US', { timeZone: 'UTC' })).getTime();
    expect(due('ny')).toBe(sendAt.getTime() + nyOffset);
    expect(rows.find((row) => row.contact.externalId === 'ny')).toMatchObject({ status: 'QUEUED' });
    expect((await campaignState(secret, id)).status).toBe('SENDING');
  });

  it('pauses within a second, resumes without duplicates, and cancels what is left', async () => {
    const { secret, publishable } = await h.workspace();
    const browsers = [];
    for (let index = 0; index < 60; index++) browsers.push((await subscribeBrowser(publishable, h.push, { anonymousId: `v${index}` })).browser);
    // The push service answers each browser after 100 ms: with concurrency 2 the send takes 3 s.
    const ids = new Set(browsers.map((browser) => browser.id));
    for (const browser of browsers) h.push.behave({ status: 201, delayMs: 100 }, { subscriptionId: browser.id });
    const id = await createCampaign(secret, { name: 'Slow', kind: 'BROADCAST', content });
    await secret(SendNow, { id });
    await h.push.waitFor(() => h.push.received().filter((r) => ids.has(r.subscriptionId)).length >= 5);
    expect(dataOf(await secret(Pause, { id })).pauseCampaign).toMatchObject({ data: { status: 'PAUSED' } });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const atPause = h.push.received().filter((r) => ids.has(r.subscriptionId)).length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(h.push.received().filter((r) => ids.has(r.subscriptionId)).length).toBe(atPause);
    expect(atPause).toBeLessThan(59);

    expect(dataOf(await secret(Resume, { id })).resumeCampaign).toMatchObject({ data: { status: 'SENDING' } });
    await h.push.waitFor(() => h.push.received().filter((r) => ids.has(r.subscriptionId)).length >= 50, 15_000);
    expect(dataOf(await secret(Cancel, { id })).cancelCampaign).toMatchObject({ data: { status: 'CANCELED' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = (await campaignState(secret, id)).stats;
    // Every browser got at most one push; what was still waiting is CANCELED, and the counts add up.
    for (const browser of browsers) expect(h.push.received(browser.id).length).toBeLessThanOrEqual(1);
    const received = h.push.received().filter((r) => ids.has(r.subscriptionId)).length;
    expect(stats.sent).toBe(received);
    const rows = dataOf(await secret(Messages, { id })).campaign!.messages.edges.map(({ node }) => node);
    const canceled = rows.filter((row) => row.status === 'CANCELED');
    expect(canceled.every((row) => row.reason === 'CAMPAIGN_CANCELED')).toBe(true);
    expect(stats.sent + canceled.length + stats.queued).toBe(60);
  });

  it('keeps a segment while a live campaign uses it, and hands its rule to the others when deleted', async () => {
    const { secret } = await h.workspace();
    const rule = { attribute: { path: 'plan', op: 'EQ', value: 'gold' } };
    const created = dataOf(await secret(CreateSegment, { rule: rule as any })).createSegment;
    const segmentId = (created as { data: { id: string } }).data.id;
    const id = await createCampaign(secret, { name: 'Gold news', kind: 'BROADCAST', content, audience: { segmentId } });
    await secret(Schedule, { id, sendAt: new Date(Date.now() + 3_600_000).toISOString() });

    const refused = dataOf(await secret(DeleteSegment, { id: segmentId })).deleteSegment;
    expect(refused).toMatchObject({ __typename: 'ConflictError', code: 'segment/in_use' });
    expect(refused.__typename === 'ConflictError' && refused.message).toContain('Gold news');

    await secret(Cancel, { id });
    expect(dataOf(await secret(DeleteSegment, { id: segmentId })).deleteSegment.__typename).toBe('MutationDeleteSegmentSuccess');
    expect(dataOf(await secret(Audience, { id })).campaign!.audience).toEqual({ segment: null, rule, type: 'IDENTIFIED' });
  });
});
