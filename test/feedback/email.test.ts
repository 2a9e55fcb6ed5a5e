/**
 * Issue 23, feedback by email: an email asks a question with one-tap buttons (signed links
 * /f/<token>/<answer>). A GET (a scanner following every link) records nothing; the page it
 * answers posts the answer, counted once per message, in the campaign's responses and NPS (live
 * over graphql-ws) and as a `feedback` event that a journey can wait for ("detractors → a follow-up").
 */
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.ts';
import { createCampaign, SendNow, waitForStatus } from '../kit/campaigns.ts';
import { dataOf, wsClient } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts';
import { upsertContacts } from '../sms/kit.ts';

const Settings = graphql(`
  mutation FeedbackEmailSettings($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) { __typename ... on Error { message } }
  }
`);
const Stats = graphql(`
  query FeedbackEmailStats($id: ID!) {
    campaign(id: $id) { stats { sent displayed opened clicked responses nps answers { kind answer count } } }
  }
`);
const LiveStats = graphql(`
  subscription FeedbackEmailLiveStats($id: ID!) { campaignStats(campaignId: $id) { responses nps } }
`);
const Answer = graphql(`
  mutation FeedbackEmailAnswer($input: MutationAnswerQuestionInput!) {
    answerQuestion(input: $input) {
      __typename
      ... on MutationAnswerQuestionSuccess { data { answer } }
      ... on ValidationError { fieldErrors { path message } }
      ... on Error { code }
    }
  }
`);
const CreateJourney = graphql(`
  mutation FeedbackJourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ... on MutationCreateJourneySuccess { data { id } } ... on ValidationError { fieldErrors { path message } } ... on Error { message } }
  }
`);
const PublishJourney = graphql(`
  mutation FeedbackJourneyPublish($id: ID!) { publishJourney(input: { id: $id }) { __typename ... on Error { message } } }
`);
const EnterJourney = graphql(`
  mutation FeedbackJourneyEnter($journeyId: ID!, $contactId: ID!) {
    enterJourney(input: { journeyId: $journeyId, contactId: $contactId }) { __typename ... on Error { message } }
  }
`);
const Enrolment = graphql(`
  query FeedbackJourneyEnrolment($id: ID!) { contact(id: $id) { journeys { status path { step outcome } } } }
`);

const h = useHerald({ HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUBLIC_RATE_LIMIT: '100000' }, { push: false });
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

const PERSON = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const SCANNER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b';
const nps = { kind: 'NPS', text: 'How likely are you to recommend us?' };

async function emailWorkspace() {
  const workspace = await h.workspace();
  const email = { fromAddress: 'news@shop.example', fromName: 'Shop', smtpUrl: smtp.url };
  expect(dataOf(await workspace.secret(Settings, { input: { email } })).updateWorkspaceSettings.__typename).toBe('MutationUpdateWorkspaceSettingsSuccess');
  return workspace;
}

/** The answer buttons of the one email `address` received (the `nth`), by answer. */
function buttonsOf(address: string, nth = 0): Record<string, string> {
  const html = smtp.to(address)[nth]!.html as string;
  const links = [...html.matchAll(/href="([^"]+\/f\/[^"]+)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&'));
  return Object.fromEntries(links.map((link) => [decodeURIComponent(link.split('/').at(-1)!), link]));
}

const tap = (url: string, method = 'GET', userAgent = PERSON) => fetch(url, { method, redirect: 'manual', headers: { 'user-agent': userAgent } });

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms = 20_000): Promise<T> {
  for (const start = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
  }
}

describe('an email that asks a question', { timeout: 90_000 }, () => {
  it('renders one-tap buttons; a GET counts nothing, the page’s POST counts once; NPS 16.7 from 3 promoters, 1 passive, 2 detractors, live', async () => {
    const { secret, secretKey } = await emailWorkspace();
    const people = ['p1', 'p2', 'p3', 'passive', 'd1', 'd2'];
    await upsertContacts(secret, people.map((externalId) => ({ externalId, email: `${externalId}@mail.example`, emailOptIn: true })));
    const id = await createCampaign(secret, {
      name: 'NPS survey',
      kind: 'BROADCAST',
      channel: 'EMAIL',
      email: {
        subject: 'A quick question',
        html: '<html><body><p>Hi {{ contact.externalId }},</p>{{ question_buttons }}<p>Thanks, the Shop</p></body></html>',
        question: nps,
      },
    });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    await until(async () => people.every((person) => smtp.to(`${person}@mail.example`).length === 1), Boolean, 'the emails');

    // Eleven buttons where the template put them, untracked; the text part has the same links.
    const buttons = buttonsOf('p1@mail.example');
    expect(Object.keys(buttons)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    const mail = smtp.to('p1@mail.example')[0]!;
    expect(mail.html).toMatch(/Hi p1,<\/p><div class="herald-question"[\s\S]*<p>Thanks, the Shop<\/p>/);
    expect(mail.text).toContain(`10: ${buttons['10']}`);
    expect(buttons['9']).toMatch(new RegExp(`^${h.kit.url}/f/[\\w-]+\\.[\\w-]+/9$`));

    const live = wsClient(h.kit.wsUrl, secretKey);
    const snapshots: { responses: number; nps: number | null }[] = [];
    const watching = (async () => {
      for await (const result of live.iterate({ query: print(LiveStats), variables: { id } })) {
        const stats = (result.data as { campaignStats: { responses: number; nps: number | null } }).campaignStats;
        snapshots.push(stats);
        if (stats.responses === 6) break;
      }
    })();
    await until(async () => snapshots.length, (count) => count > 0, 'the first snapshot');

    // A scanner's GET, a HEAD and even a person's GET record nothing: the page asks to post.
    expect((await tap(buttons['9']!, 'GET', SCANNER)).status).toBe(200);
    expect((await tap(buttons['9']!, 'HEAD')).status).toBe(200);
    const page = await tap(buttons['9']!);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('<form id="answer" method="post"');
    expect(html).toContain('Send my answer: 9');
    const policy = page.headers.get('content-security-policy')!;
    const script = /<script>([^<]*)<\/script>/.exec(html)![1]!;
    const { createHash } = await import('node:crypto');
    expect(policy).toContain(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(policy).toContain("default-src 'none'");
    expect(dataOf(await secret(Stats, { id })).campaign!.stats).toMatchObject({ responses: 0, clicked: 0, opened: 0 });

    // The posts: each person once (a second tap, or another button, keeps the first answer).
    const answers: Record<string, string> = { p1: '9', p2: '10', p3: '9', passive: '7', d1: '3', d2: '6' };
    for (const [person, answer] of Object.entries(answers)) {
      const posted = await tap(buttonsOf(`${person}@mail.example`)[answer]!, 'POST');
      expect(posted.status, person).toBe(200);
      expect(await posted.text()).toContain('Your answer is recorded');
    }
    expect((await tap(buttonsOf('d1@mail.example')['10']!, 'POST')).status).toBe(200);
    expect((await tap(buttonsOf('p1@mail.example')['9']!, 'POST')).status).toBe(200);
    const again = await tap(buttonsOf('p2@mail.example')['0']!);
    expect(await again.text()).toContain('already recorded');

    // Refused, changing nothing: an answer the question does not offer, a forged token, a foreign workspace.
    const eleven = buttonsOf('p1@mail.example')['10']!.replace(/\/10$/, '/11');
    expect((await tap(eleven)).status).toBe(400);
    expect((await tap(eleven, 'POST')).status).toBe(400);
    const forged = buttonsOf('p1@mail.example')['9']!.replace(/\.[\w-]+\/9$/, '.AAAAAAAAAAAAAAAAAAAAAA/9');
    expect((await tap(forged, 'POST')).status).toBe(404);
    const token = /\/f\/([^/]+)\//.exec(buttonsOf('p1@mail.example')['9']!)![1]!;
    const other = await h.workspace('Other shop');
    expect(dataOf(await other.secret(Answer, { input: { token, answer: '0' } })).answerQuestion).toMatchObject({ code: 'message/not_found' });

    await watching;
    await live.dispose();
    expect(snapshots.at(-1)).toEqual({ responses: 6, nps: 16.7 });
    expect(snapshots[0]).toEqual({ responses: 0, nps: null });
    const { stats } = dataOf(await secret(Stats, { id })).campaign!;
    expect(stats).toEqual({
      sent: 6,
      displayed: 6,
      opened: 6,
      clicked: 6,
      responses: 6,
      nps: 16.7,
      answers: [
        { kind: 'NPS', answer: '3', count: 1 },
        { kind: 'NPS', answer: '6', count: 1 },
        { kind: 'NPS', answer: '7', count: 1 },
        { kind: 'NPS', answer: '9', count: 2 },
        { kind: 'NPS', answer: '10', count: 1 },
      ],
    });
  });

  it('places the buttons at the end of the body when the template does not say where', async () => {
    const { secret } = await emailWorkspace();
    await upsertContacts(secret, [{ externalId: 'sam', email: 'sam@mail.example', emailOptIn: true }]);
    const id = await createCampaign(secret, {
      name: 'Stars',
      kind: 'BROADCAST',
      channel: 'EMAIL',
      email: { subject: 'Rate us', mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Your order arrived.</mj-text></mj-column></mj-section></mj-body></mjml>', question: { kind: 'STARS', text: 'How was it?' } },
    });
    await secret(SendNow, { id });
    await waitForStatus(secret, id);
    await until(async () => smtp.to('sam@mail.example').length, (count) => count === 1, 'the email');
    expect(Object.keys(buttonsOf('sam@mail.example'))).toEqual(['1', '2', '3', '4', '5']);
    const html = smtp.to('sam@mail.example')[0]!.html as string;
    expect(html.indexOf('herald-question')).toBeGreaterThan(html.indexOf('Your order arrived.'));
    expect(html.indexOf('herald-question')).toBeLessThan(html.toLowerCase().lastIndexOf('</body>'));
    expect(html).toContain('★★★★★');
  });
});

describe('a journey that asks for a score', { timeout: 90_000 }, () => {
  it('follows up with detractors (answer ≤ 6) only', async () => {
    const { secret } = await emailWorkspace();
    const created = dataOf(
      await secret(CreateJourney, {
        input: {
          name: 'NPS follow-up',
          entry: { api: true },
          steps: [
            { key: 'ask', send: { channel: 'EMAIL', email: { subject: 'One question', html: '<p>Hello</p>', question: nps }, next: 'score' } },
            { key: 'score', waitForEvent: { name: 'feedback', where: [{ path: 'answer', op: 'LTE', value: 6 }], withinSeconds: 3600, onEvent: 'sorry' } },
            { key: 'sorry', send: { channel: 'EMAIL', email: { subject: 'Sorry to hear that', html: '<p>What went wrong?</p>' } } },
          ],
        },
      } as never),
    ).createJourney;
    if (created.__typename !== 'MutationCreateJourneySuccess') throw new Error(JSON.stringify(created));
    const journeyId = created.data.id;
    expect(dataOf(await secret(PublishJourney, { id: journeyId })).publishJourney.__typename).toBe('MutationPublishJourneySuccess');
    const [detractor, promoter] = await upsertContacts(secret, [
      { externalId: 'detractor', email: 'detractor@mail.example', emailOptIn: true },
      { externalId: 'promoter', email: 'promoter@mail.example', emailOptIn: true },
    ]);
    for (const contactId of [detractor!, promoter!]) expect(dataOf(await secret(EnterJourney, { journeyId, contactId })).enterJourney.__typename).toBe('MutationEnterJourneySuccess');
    await until(async () => smtp.to('detractor@mail.example').length + smtp.to('promoter@mail.example').length, (count) => count === 2, 'the questions');

    // The journey's message is answered like a campaign's: its step's content holds the question.
    expect((await tap(buttonsOf('promoter@mail.example')['9']!, 'POST')).status).toBe(200);
    expect((await tap(buttonsOf('detractor@mail.example')['4']!, 'POST')).status).toBe(200);

    await until(async () => smtp.to('detractor@mail.example').length, (count) => count === 2, 'the follow-up');
    expect(smtp.to('detractor@mail.example').map((mail) => mail.subject)).toEqual(['One question', 'Sorry to hear that']);
    const path = async (id: string) => {
      const [enrolment] = dataOf(await secret(Enrolment, { id })).contact!.journeys;
      return { status: enrolment!.status, path: enrolment!.path.map((entry) => `${entry.step}:${entry.outcome}`) };
    };
    expect(await until(() => path(detractor!), (value) => value.status === 'COMPLETED', 'the detractor’s journey')).toEqual({
      status: 'COMPLETED',
      path: ['ask:sent', 'score:event', 'sorry:sent'],
    });
    // The promoter's 9 does not match: still waiting, no follow-up.
    expect(await path(promoter!)).toMatchObject({ status: 'ACTIVE' });
    expect(smtp.to('promoter@mail.example').map((mail) => mail.subject)).toEqual(['One question']);
  });
});
