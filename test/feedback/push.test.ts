/**
 * Issue 23, feedback by push: a web push asks a question with its action buttons; the service
 * worker's answer (POST /track { token, answer }) and the answerQuestion mutation are recorded once
 * per message, as a `feedback` event, a click and the campaign's response counters.
 */
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { CreateCampaign, createCampaign, SendNow, subscribeBrowser, waitForStatus } from '../kit/campaigns.ts';
import { dataOf } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';

const Answer = graphql(`
  mutation FeedbackPushAnswer($input: MutationAnswerQuestionInput!) {
    answerQuestion(input: $input) {
      __typename
      ... on MutationAnswerQuestionSuccess { data { id status displayedAt clickedAt answeredAt answer } }
      ... on ValidationError { code fieldErrors { path message } }
      ... on Error { code message }
    }
  }
`);
const Stats = graphql(`
  query FeedbackPushStats($id: ID!) {
    campaign(id: $id) {
      content { question { kind text answers } }
      stats { sent displayed clicked responses nps answers { kind answer count } }
      messages(first: 3) { edges { node { answer answeredAt contact { externalId events(first: 3) { edges { node { name properties } } } } } } }
    }
  }
`);

const h = useHerald({ HERALD_PUBLIC_RATE_LIMIT: '100000' });

const thumbs = { title: 'Your order arrived', url: 'https://shop.example/orders', question: { kind: 'THUMBS', text: 'Was delivery on time?' } };
type Payload = { body: string; token: string; trackUrl: string; actions: { action: string; title: string; url?: string }[] };

const answerBeacon = (payload: Payload, answer: string) =>
  fetch(payload.trackUrl, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://shop.example' }, body: JSON.stringify({ token: payload.token, answer }) });

describe('a push that asks a question', { timeout: 90_000 }, () => {
  it('shows the answers as action buttons; the worker’s answer and the mutation count once per message, as a click and a feedback event', async () => {
    const { secret, publishable } = await h.workspace();
    const ada = await subscribeBrowser(publishable, h.push, { externalId: 'ada' });
    const bob = await subscribeBrowser(publishable, h.push, { externalId: 'bob' });
    const cy = await subscribeBrowser(publishable, h.push, { externalId: 'cy' });
    const id = await createCampaign(secret, { name: 'Delivery check', kind: 'BROADCAST', content: thumbs });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const payloadOf = (browserId: string) => h.push.received(browserId)[0]!.json as Payload;
    const [toAda, toBob, toCy] = [payloadOf(ada.browser.id), payloadOf(bob.browser.id), payloadOf(cy.browser.id)];

    // The buttons name their answers; the body asks the question (the content has none of its own).
    expect(toAda.actions).toEqual([
      { action: 'answer:up', title: '👍' },
      { action: 'answer:down', title: '👎' },
    ]);
    expect(toAda.body).toBe('Was delivery on time?');

    // The service worker's path: a click on an answer button posts { token, answer } to /track.
    expect((await answerBeacon(toAda, 'up')).status).toBe(204);
    expect((await answerBeacon(toAda, 'down')).status).toBe(204); // a second answer is not kept
    expect((await answerBeacon(toBob, 'sideways')).status).toBe(400); // not an answer: nothing stored
    // The mutation, with the publishable key the SDK holds: minimal fields of its own message.
    const bobs = dataOf(await publishable(Answer, { input: { token: toBob.token, answer: 'down' } })).answerQuestion;
    expect(bobs).toMatchObject({ __typename: 'MutationAnswerQuestionSuccess', data: { answer: 'down', status: 'SENT', answeredAt: expect.any(String), clickedAt: expect.any(String) } });
    expect(dataOf(await secret(Answer, { input: { token: toBob.token, answer: 'up' } })).answerQuestion).toMatchObject({ data: { answer: 'down' } });

    // Refused, changing nothing: a forged token, a free text this question does not take, an answer it does not offer.
    const forged = `${toCy.token.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`;
    expect(dataOf(await publishable(Answer, { input: { token: forged, answer: 'up' } })).answerQuestion).toMatchObject({ code: 'message/not_found' });
    expect(dataOf(await publishable(Answer, { input: { token: 'nonsense', answer: 'up' } })).answerQuestion).toMatchObject({ code: 'message/not_found' });
    expect(dataOf(await publishable(Answer, { input: { token: toCy.token, answer: 'up', text: 'late again' } })).answerQuestion).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ path: ['input', 'text'] }],
    });
    expect(dataOf(await publishable(Answer, { input: { token: toCy.token, answer: '5' } })).answerQuestion).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ path: ['input', 'answer'], message: 'must be one of up, down' }],
    });
    // Another workspace's keys cannot answer for this one's messages.
    const other = await h.workspace('Other shop');
    for (const client of [other.publishable, other.secret]) {
      expect(dataOf(await client(Answer, { input: { token: toCy.token, answer: 'up' } })).answerQuestion).toMatchObject({ code: 'message/not_found' });
    }

    const campaign = dataOf(await secret(Stats, { id })).campaign!;
    expect(campaign.content!.question).toEqual({ kind: 'THUMBS', text: 'Was delivery on time?', answers: ['up', 'down'] });
    expect(campaign.stats).toEqual({
      sent: 3,
      displayed: 2,
      clicked: 2,
      responses: 2,
      nps: null,
      answers: [
        { kind: 'THUMBS', answer: 'down', count: 1 },
        { kind: 'THUMBS', answer: 'up', count: 1 },
      ],
    });
    const byContact = Object.fromEntries(campaign.messages.edges.map(({ node }) => [node.contact.externalId!, node] as const));
    type Event = (typeof campaign.messages.edges)[number]['node']['contact']['events']['edges'][number]['node'];
    expect([byContact.ada!.answer, byContact.bob!.answer, byContact.cy!.answer]).toEqual(['up', 'down', null]);
    expect(byContact.cy!.answeredAt).toBeNull();
    // One feedback event per answered message, with the kept answer.
    const feedback = (externalId: string): Event[] => byContact[externalId]!.contact.events.edges.map(({ node }) => node).filter((event) => event.name === 'feedback');
    expect(feedback('ada').map((event) => event.properties)).toEqual([
      { question: 'Was delivery on time?', kind: 'THUMBS', answer: 'up', messageId: expect.any(String), campaignId: id },
    ]);
    expect(feedback('bob').map((event) => (event.properties as { answer: unknown }).answer)).toEqual(['down']);
    expect(feedback('cy')).toEqual([]);
  });

  it('asks what two buttons cannot show (NPS) on its answer page: the click opens it, each answer a button that posts', async () => {
    const { secret, publishable } = await h.workspace();
    const dee = await subscribeBrowser(publishable, h.push, { externalId: 'dee' });
    const id = await createCampaign(secret, {
      name: 'NPS by push',
      kind: 'BROADCAST',
      content: { title: 'One question', url: 'https://shop.example/', question: { kind: 'NPS', text: 'How likely are you to recommend us?' } },
    });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    const payload = h.push.received(dee.browser.id)[0]!.json as Payload & { url: string };
    expect(payload.actions).toEqual([]);
    expect(payload.body).toBe('How likely are you to recommend us?');
    expect(payload.url).toBe(`${h.kit.url}/f/${payload.token}`);

    // The page a click opens: the question and 11 buttons, each posting its answer; nothing recorded yet.
    const page = await fetch(payload.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('How likely are you to recommend us?');
    const actions = [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((match) => match[1]!);
    expect(actions).toEqual(Array.from({ length: 11 }, (_, score) => `/f/${payload.token}/${score}`));
    expect(dataOf(await secret(Stats, { id })).campaign!.stats.responses).toBe(0);

    expect((await fetch(`${h.kit.url}${actions[3]}`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${h.kit.url}${actions[10]}`, { method: 'POST' })).status).toBe(200); // a second answer changes nothing
    const { stats } = dataOf(await secret(Stats, { id })).campaign!;
    expect(stats).toMatchObject({ responses: 1, nps: -100, clicked: 1, answers: [{ kind: 'NPS', answer: '3', count: 1 }] });
    expect(await (await fetch(payload.url)).text()).toContain('already recorded');
  });

  it('checks a push’s question', async () => {
    const { secret } = await h.workspace();
    const refusals = async (content: Record<string, unknown>) => {
      const result = dataOf(await secret(CreateCampaign, { input: { name: 'Ask', kind: 'BROADCAST', content: { title: 'Hi', url: 'https://shop.example/', ...content } } } as never)).createCampaign;
      return result.__typename === 'ValidationError' ? result.fieldErrors : [];
    };
    expect(await refusals({ question: { kind: 'NPS', text: 'Recommend us?' } })).toEqual([]);
    expect(await refusals({ question: { kind: 'CHOICE', text: 'Which?', choices: ['a', 'b', 'c'] } })).toEqual([]);
    expect(await refusals({ question: { kind: 'THUMBS', text: 'Good?', freeText: true } })).toEqual([
      { path: ['input', 'content', 'question', 'freeText'], message: 'a free-text answer is for on-site messages only' },
    ]);
    expect(await refusals({ question: { kind: 'THUMBS', text: 'Good?' }, actions: [{ action: 'open', title: 'Open' }] })).toEqual([
      { path: ['input', 'content', 'actions'], message: expect.stringContaining('not both') },
    ]);
    expect(await refusals({ question: { kind: 'CHOICE', text: ' ', choices: ['same', 'same'] } })).toEqual([
      { path: ['input', 'content', 'question', 'text'], message: 'must be 1 to 300 characters' },
      { path: ['input', 'content', 'question', 'choices'], message: 'choices must differ' },
    ]);
    expect(await refusals({ question: { kind: 'CHOICE', text: ' Which size? ', choices: [' S ', 'M'] } })).toEqual([]);
  });
});
