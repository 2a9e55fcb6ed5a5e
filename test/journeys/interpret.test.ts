import { describe, expect, it } from 'vitest';
import { parseJourney, splitPath } from '../../src/journeys/definition.ts';
import { type Enrolment, interpret, type JourneyEvent, type JourneyFacts } from '../../src/journeys/interpret.ts';
import { nextLocalTime } from '../../src/journeys/local-time.ts';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const MIN = 60_000;
const at = (minutes: number) => new Date(T0 + minutes * MIN);
const window = { from: at(0), to: at(100_000) };

let sequence = 0;
function ev(name: string, minutes: number, properties: Record<string, unknown> = {}): JourneyEvent {
  return { id: `e${++sequence}`, name, at: at(minutes), properties };
}

/** Facts for a contact reachable everywhere, in every branch's yes, engaging never. */
function facts(override: Partial<JourneyFacts> = {}): JourneyFacts {
  return {
    contactId: 'contact-1',
    zone: 'UTC',
    inAudience: () => true,
    // The tests' conditions are equalities.
    matches: (event, where) => where.every((condition) => event.properties?.[condition.path] === condition.value),
    unreachable: () => null,
    branch: () => true,
    engagedAt: () => null,
    ...override,
  };
}

const email = { subject: 'Hi', html: '<p>Hi</p>' };
function journey(steps: unknown[], extra: Record<string, unknown> = {}) {
  return parseJourney({ name: 'Test', entry: { event: { name: 'signup' } }, steps, ...extra });
}

/** path as "step@minute:outcome" strings, the shape most cases compare. */
function trail(enrolment: Enrolment): string[] {
  return enrolment.path.map((entry) => `${entry.step}@${(entry.at.getTime() - T0) / MIN}:${entry.outcome}${entry.passedAt ? `@${(entry.passedAt.getTime() - T0) / MIN}` : ''}`);
}

describe('the reference interpreter, step by step', () => {
  const send = (channel: string, fallback: string[] = []) => [
    { key: 'hello', send: { channel, fallback, email, content: { title: 'Hi' }, next: 'after' } },
    { key: 'after', wait: { seconds: 60 } },
  ];
  it.each([
    { title: 'sends on the first channel that can take it', unreachable: {}, channel: 'EMAIL', fallback: ['WEB_PUSH'], sent: 'EMAIL', reason: null },
    { title: 'falls back when the first cannot', unreachable: { EMAIL: 'UNSUBSCRIBED' }, channel: 'EMAIL', fallback: ['WEB_PUSH'], sent: 'WEB_PUSH', reason: null },
    { title: 'suppresses with the first channel’s reason when none can', unreachable: { EMAIL: 'NO_EMAIL', WEB_PUSH: 'NO_SUBSCRIPTION' }, channel: 'EMAIL', fallback: ['WEB_PUSH'], sent: null, reason: 'NO_EMAIL' },
  ])('send: $title, and moves on at once', ({ unreachable, channel, fallback, sent, reason }) => {
    const [enrolment] = interpret(journey(send(channel, fallback)), 'j', [ev('signup', 0)], facts({ unreachable: (c) => (unreachable as Record<string, string>)[c] ?? null }), window);
    expect(enrolment!.sends).toEqual([{ step: 'hello', at: at(0), channel: sent, reason, capped: false, deliveredAt: sent ? at(0) : null }]);
    expect(trail(enrolment!)).toEqual([`hello@0:${sent ? 'sent' : 'suppressed'}@0`, 'after@0:waited@1']);
    expect(enrolment!).toMatchObject({ status: 'COMPLETED', endedAt: at(1) });
  });

  it('send: delivery may cap the message or hold it for its window', () => {
    const capped = interpret(journey(send('EMAIL')), 'j', [ev('signup', 0)], facts({ deliver: () => ({ capped: true }) }), window)[0]!;
    expect(capped.sends[0]).toMatchObject({ channel: 'EMAIL', capped: true, deliveredAt: null });
    expect(trail(capped)[0]).toBe('hello@0:sent@0');
    const held = interpret(journey(send('EMAIL')), 'j', [ev('signup', 0)], facts({ deliver: (_c, when) => ({ deliveredAt: new Date(when.getTime() + 5 * MIN) }) }), window)[0]!;
    expect(held.sends[0]).toMatchObject({ capped: false, deliveredAt: at(5) });
  });

  it.each([
    { title: 'seconds', wait: { seconds: 90 }, zone: 'UTC', arrive: 0, passes: '2026-03-02T10:01:30.000Z' },
    { title: 'a later local time today', wait: { untilLocalTime: '12:30' }, zone: 'Europe/Warsaw', arrive: 0, passes: '2026-03-02T11:30:00.000Z' },
    { title: 'a local time already past today: tomorrow', wait: { untilLocalTime: '09:00' }, zone: 'Europe/Warsaw', arrive: 0, passes: '2026-03-03T08:00:00.000Z' },
    { title: 'the local time itself: strictly after, tomorrow', wait: { untilLocalTime: '11:00' }, zone: 'Europe/Warsaw', arrive: 0, passes: '2026-03-03T10:00:00.000Z' },
  ])('wait: $title', ({ wait, zone, arrive, passes }) => {
    const [enrolment] = interpret(journey([{ key: 'w', wait }]), 'j', [ev('signup', arrive)], facts({ zone }), window);
    expect(enrolment!.path[0]).toMatchObject({ outcome: 'waited', passedAt: new Date(passes) });
    expect(enrolment!.endedAt).toEqual(new Date(passes));
  });

  it('wait until a local time the clocks skip happens when they jump', () => {
    // Europe/Berlin springs forward 2026-03-29 02:00 → 03:00 (01:00Z).
    expect(new Date(nextLocalTime(Date.parse('2026-03-28T12:00:00Z'), 'Europe/Berlin', '02:30')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it.each([
    // The gap's first minute: the wall-clock time is the jump itself, and the transition before it
    // is the previous autumn's (already past: the wait ran on to the next day's).
    { zone: 'Europe/Berlin', time: '02:00', after: '2026-03-28T12:00:00Z', passes: '2026-03-29T01:00:00.000Z' },
    { zone: 'America/New_York', time: '02:00', after: '2026-03-07T12:00:00Z', passes: '2026-03-08T07:00:00.000Z' },
    { zone: 'America/Santiago', time: '00:00', after: '2026-09-05T12:00:00Z', passes: '2026-09-06T04:00:00.000Z' },
  ])('wait until $time in $zone, the first minute the clocks skip, happens at the jump that day', ({ zone, time, after, passes }) => {
    expect(new Date(nextLocalTime(Date.parse(after), zone, time)).toISOString()).toBe(passes);
  });

  const waitForEvent = [
    { key: 'w', waitForEvent: { name: 'paid', where: [{ path: 'plan', op: 'EQ', value: 'pro' }], withinSeconds: 600, onEvent: 'got', onTimeout: 'lost' } },
    { key: 'got', branch: { rule: { identified: true } } },
    { key: 'lost', branch: { rule: { identified: true } } },
  ];
  it.each([
    { title: 'a matching event inside the window', events: [['paid', 3, 'pro']], path: ['w@0:event@3', 'got@3:yes@3'] },
    { title: 'an event at the deadline still counts', events: [['paid', 10, 'pro']], path: ['w@0:event@10', 'got@10:yes@10'] },
    { title: 'an event at the arrival instant does not', events: [['paid', 0, 'pro']], path: ['w@0:timeout@10', 'lost@10:yes@10'] },
    { title: 'a non-matching event does not', events: [['paid', 3, 'free']], path: ['w@0:timeout@10', 'lost@10:yes@10'] },
    { title: 'an event after the deadline does not', events: [['paid', 11, 'pro']], path: ['w@0:timeout@10', 'lost@10:yes@10'] },
    { title: 'the first of two matching events decides', events: [['paid', 4, 'pro'], ['paid', 5, 'pro']], path: ['w@0:event@4', 'got@4:yes@4'] },
  ])('waitForEvent: $title', ({ events, path }) => {
    const stream = [ev('signup', 0), ...events.map(([name, minute, plan]) => ev(name as string, minute as number, { plan }))];
    const [enrolment] = interpret(journey(waitForEvent), 'j', stream, facts(), window);
    expect(trail(enrolment!)).toEqual(path);
  });

  it.each([true, false])('branch: the rule at arrival decides (%s)', (yes) => {
    const asked: Date[] = [];
    const steps = [{ key: 'b', branch: { rule: { tag: { has: 'vip' } }, yes: 'y', no: 'n' } }, { key: 'y', wait: { seconds: 60 } }, { key: 'n', wait: { seconds: 120 } }];
    const [enrolment] = interpret(journey(steps), 'j', [ev('signup', 5)], facts({ branch: (_step, when) => (asked.push(when), yes) }), window);
    expect(asked).toEqual([at(5)]);
    expect(trail(enrolment!)).toEqual(yes ? ['b@5:yes@5', 'y@5:waited@6'] : ['b@5:no@5', 'n@5:waited@7']);
  });

  const engagement = (waitMinutes: number) => [
    { key: 'mail', send: { channel: 'EMAIL', email, next: 'pause' } },
    { key: 'pause', wait: { seconds: waitMinutes * 60, next: 'opened' } },
    { key: 'opened', engagement: { step: 'mail', did: 'OPENED', withinSeconds: 3600, yes: 'thanks', no: 'nudge' } },
    { key: 'thanks', wait: { seconds: 1 } },
    { key: 'nudge', send: { channel: 'WEB_PUSH', content: { title: 'Come back' } } },
  ];
  it.each([
    { title: 'already engaged at arrival: yes at once', wait: 30, engaged: 10, unreachable: null, decided: 'opened@30:yes@30' },
    { title: 'engaged before the deadline: yes at the deadline', wait: 30, engaged: 45, unreachable: null, decided: 'opened@30:yes@60' },
    { title: 'engaged exactly at the deadline: yes', wait: 30, engaged: 60, unreachable: null, decided: 'opened@30:yes@60' },
    { title: 'engaged after the deadline: no at the deadline', wait: 30, engaged: 61, unreachable: null, decided: 'opened@30:no@60' },
    { title: 'never engaged: no at the deadline', wait: 30, engaged: null, unreachable: null, decided: 'opened@30:no@60' },
    { title: 'the deadline already passed: no at once', wait: 90, engaged: null, unreachable: null, decided: 'opened@90:no@90' },
    { title: 'the send was suppressed: no at once', wait: 30, engaged: 10, unreachable: 'NO_EMAIL', decided: 'opened@30:no@30' },
  ])('engagement: $title', ({ wait, engaged, unreachable, decided }) => {
    const asked: string[] = [];
    const [enrolment] = interpret(
      journey(engagement(wait)),
      'j',
      [ev('signup', 0)],
      facts({
        unreachable: (channel) => (channel === 'EMAIL' ? unreachable : null),
        engagedAt: (send, did) => (asked.push(`${send.step}/${send.channel}/${did}`), engaged == null ? null : at(engaged)),
      }),
      window,
    );
    expect(trail(enrolment!)[2]).toBe(decided);
    expect(asked).toEqual(unreachable ? [] : ['mail/EMAIL/OPENED']);
    expect(enrolment!.sends.map((send) => send.step)).toEqual(decided.includes(':no') ? ['mail', 'nudge'] : ['mail']);
  });

  it('split: the deterministic path of splitPath for this journey, step and contact', () => {
    const paths = [{ name: 'a', percent: 50, next: 'left' }, { name: 'b', percent: 50, next: 'right' }];
    const steps = [{ key: 's', split: { paths } }, { key: 'left', wait: { seconds: 60 } }, { key: 'right', wait: { seconds: 120 } }];
    const definition = journey(steps);
    const seen = new Set<string>();
    for (const contactId of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']) {
      const [enrolment] = interpret(definition, 'journey-9', [ev('signup', 0)], facts({ contactId }), window);
      const chosen = splitPath('journey-9', 's', contactId, definition.steps[0]!.kind === 'split' ? definition.steps[0]!.paths : []);
      expect(enrolment!.path.map((entry) => entry.step)).toEqual(['s', chosen.next]);
      expect(enrolment!.path[0]!.outcome).toBe(chosen.name);
      seen.add(chosen.name);
    }
    expect(seen.size).toBe(2);
  });
});

describe('the reference interpreter, journeys as a whole', () => {
  const flow = (extra: Record<string, unknown> = {}) =>
    journey(
      [
        { key: 'welcome', send: { channel: 'EMAIL', email, next: 'wait' } },
        { key: 'wait', wait: { seconds: 3600, next: 'push' } },
        { key: 'push', send: { channel: 'WEB_PUSH', content: { title: 'Back?' } } },
      ],
      { exitEvents: ['purchase'], goal: { event: 'purchase', withinSeconds: 7200 }, ...extra },
    );

  it('an exit event mid-wait ends the enrolment at its time; nothing after it runs', () => {
    const [enrolment] = interpret(flow(), 'j', [ev('signup', 0), ev('purchase', 20)], facts(), window);
    expect(enrolment).toMatchObject({ status: 'EXITED', endedAt: at(20), convertedAt: at(20) });
    expect(trail(enrolment!)).toEqual(['welcome@0:sent@0', 'wait@0:exited']);
    expect(enrolment!.sends.map((send) => send.step)).toEqual(['welcome']);
  });

  it('an exit event at the wait’s end comes first; just after it, the journey had gone on', () => {
    expect(interpret(flow(), 'j', [ev('signup', 0), ev('purchase', 60)], facts(), window)[0]!.status).toBe('EXITED');
    const [late] = interpret(flow(), 'j', [ev('signup', 0), ev('purchase', 61)], facts(), window);
    expect(late).toMatchObject({ status: 'COMPLETED', endedAt: at(60), convertedAt: at(61) });
  });

  it('a goal converts once, within goal.withinSeconds of entry, and does not end the journey', () => {
    const journeyWithGoal = flow({ exitEvents: [], goal: { event: 'order', withinSeconds: 7200 } });
    const [converted] = interpret(journeyWithGoal, 'j', [ev('signup', 0), ev('order', 10), ev('order', 30)], facts(), window);
    expect(converted).toMatchObject({ status: 'COMPLETED', convertedAt: at(10), endedAt: at(60) });
    expect(converted!.sends).toHaveLength(2);
    const [tooLate] = interpret(journeyWithGoal, 'j', [ev('signup', 0), ev('order', 121)], facts(), window);
    expect(tooLate!.convertedAt).toBeNull();
    const [atTheEdge] = interpret(journeyWithGoal, 'j', [ev('signup', 0), ev('order', 120)], facts(), window);
    expect(atTheEdge!.convertedAt).toEqual(at(120));
  });

  it('re-entry: once ever without reEntryAfterSeconds; with it, not while active nor sooner', () => {
    const signups = [ev('signup', 0), ev('signup', 30), ev('signup', 100), ev('signup', 200), ev('signup', 230)];
    expect(interpret(flow(), 'j', signups, facts(), window).map((e) => e.enteredAt)).toEqual([at(0)]);
    // Active until minute 60; then at least 150 minutes after the last entry.
    const again = interpret(flow({ reEntryAfterSeconds: 150 * 60 }), 'j', signups, facts(), window);
    expect(again.map((e) => e.enteredAt)).toEqual([at(0), at(200)]);
    const zero = interpret(flow({ reEntryAfterSeconds: 0 }), 'j', signups, facts(), window);
    expect(zero.map((e) => e.enteredAt)).toEqual([at(0), at(100), at(200)]);
  });

  it('the entering event does not act on the enrolment it starts, and entry needs the audience', () => {
    const sameEvent = journey([{ key: 'w', waitForEvent: { name: 'signup', withinSeconds: 60, onEvent: 'x' } }, { key: 'x', wait: { seconds: 1 } }], {
      exitEvents: ['signup'],
    });
    expect(trail(interpret(sameEvent, 'j', [ev('signup', 0)], facts(), window)[0]!)).toEqual(['w@0:timeout@1']);
    const withAudience = flow({ audience: { type: 'IDENTIFIED' } });
    expect(interpret(withAudience, 'j', [ev('signup', 0)], facts({ inAudience: () => false }), window)).toEqual([]);
    const filtered = journey([{ key: 'w', wait: { seconds: 1 } }], { entry: { event: { name: 'signup', where: [{ path: 'plan', op: 'EQ', value: 'pro' }] } } });
    expect(interpret(filtered, 'j', [ev('signup', 0, { plan: 'free' }), ev('signup', 5, { plan: 'pro' })], facts(), window).map((e) => e.enteredAt)).toEqual([at(5)]);
  });

  it('segment entries come from the facts; only the window’s events and timers count', () => {
    const segment = parseJourney({
      name: 'Segment',
      entry: { segment: { rule: { tag: { has: 'lapsed' } } } },
      steps: [{ key: 'push', send: { channel: 'WEB_PUSH', content: { title: 'Hi' }, next: 'wait' } }, { key: 'wait', wait: { seconds: 3600 } }],
    });
    const short = { from: at(0), to: at(30) };
    const [enrolment] = interpret(segment, 'j', [ev('purchase', -5), ev('purchase', 40)], facts({ entries: [at(0)] }), short);
    expect(enrolment).toMatchObject({ status: 'ACTIVE', endedAt: null });
    expect(trail(enrolment!)).toEqual(['push@0:sent@0', 'wait@0:null']);
    expect(interpret(segment, 'j', [], facts({ entries: [at(-1)] }), short)).toEqual([]);
  });
});
