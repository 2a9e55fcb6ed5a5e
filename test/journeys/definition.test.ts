import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { percentileOf, parseJourney, splitPath } from '../../src/journeys/definition.ts';

/** The reactivation flow of the issue: signup → welcome email → wait → not opened → web push. */
const reactivation = {
  name: 'Reactivation',
  entry: { event: { name: 'signup', where: [{ path: 'plan', op: 'EQ', value: 'free' }] } },
  steps: [
    { key: 'welcome', send: { channel: 'EMAIL', email: { subject: 'Hi', html: '<p>Hi</p>' }, next: 'wait' } },
    { key: 'wait', wait: { seconds: 86_400, next: 'opened' } },
    { key: 'opened', engagement: { step: 'welcome', did: 'OPENED', withinSeconds: 86_400, no: 'nudge' } },
    { key: 'nudge', send: { channel: 'WEB_PUSH', fallback: ['SMS'], content: { title: 'Come back', url: 'https://shop.example/' } } },
  ],
  exitEvents: ['purchase'],
  goal: { event: 'purchase', withinSeconds: 7 * 86_400 },
};

function problems(input: unknown): string[] {
  try {
    parseJourney(input);
  } catch (error) {
    if (error instanceof ValidationError) return error.fieldErrors.map((e) => `${e.path.join('.')}: ${e.message}`);
    throw error;
  }
  return [];
}

describe('journey definitions', () => {
  it('reads the reactivation flow into typed steps, content kept for campaigns to check', () => {
    const journey = parseJourney(reactivation);
    expect(journey.entry).toEqual({ kind: 'event', name: 'signup', where: [{ path: 'plan', op: 'EQ', value: 'free' }] });
    expect(journey.steps.map((step) => step.kind)).toEqual(['send', 'wait', 'engagement', 'send']);
    expect(journey.steps[0]).toMatchObject({ kind: 'send', channel: 'EMAIL', fallback: [], next: 'wait', message: { email: { subject: 'Hi', html: '<p>Hi</p>' } } });
    expect(journey.steps[2]).toMatchObject({ kind: 'engagement', step: 'welcome', did: 'OPENED', yes: null, no: 'nudge' });
    expect(journey.steps[3]).toMatchObject({ fallback: ['SMS'], next: null });
    expect(journey).toMatchObject({ exitEvents: ['purchase'], reEntryAfterSeconds: null, frequencyCapped: true });
  });

  it('refuses graphs that loop, dangle, strand a step or ask about a send that may not have happened', () => {
    const steps = (list: unknown[]) => ({ ...reactivation, steps: list });
    expect(problems(steps([{ key: 'a', wait: { seconds: 1, next: 'b' } }, { key: 'b', wait: { seconds: 1, next: 'a' } }]))).toEqual([
      'input.steps.1: leads back to "a": journeys may not loop',
    ]);
    expect(problems(steps([{ key: 'a', wait: { seconds: 1, next: 'nowhere' } }]))).toEqual(['input.steps.0.wait: no step has the key "nowhere"']);
    expect(problems(steps([{ key: 'a', wait: { seconds: 1 } }, { key: 'b', wait: { seconds: 1 } }]))).toEqual([
      'input.steps.1.key: "b" cannot be reached from the first step',
    ]);
    const maybeSent = [
      { key: 'coin', split: { paths: [{ name: 'mail', percent: 50, next: 'mail' }, { name: 'skip', percent: 50, next: 'check' }] } },
      { key: 'mail', send: { channel: 'EMAIL', email: { subject: 'x', html: 'x' }, next: 'check' } },
      { key: 'check', engagement: { step: 'mail', did: 'OPENED', withinSeconds: 60 } },
    ];
    expect(problems(steps(maybeSent))).toEqual(['input.steps.2.engagement.step: "mail" does not come before this step on every way to it']);
  });

  it('answers every field problem with its place', () => {
    expect(
      problems({
        ...reactivation,
        entry: { event: { name: 'signup' }, api: true },
        steps: [
          { key: 'a', wait: { seconds: 1 }, branch: { rule: { tag: { has: 'x' } } } },
          { key: 'b c', split: { paths: [{ name: 'x', percent: 60 }, { name: 'x', percent: 30 }] } },
          { key: 'w', wait: {} },
        ],
      }),
    ).toEqual([
      'input.steps.1.key: must be a step key: 1-64 letters, digits, _ or -',
      'input.steps.1.split.paths: percents must add up to 100, not 90',
      'input.steps.1.split.paths: path names must differ',
      'input.steps.2.wait.seconds: give exactly one of seconds and untilLocalTime',
    ]);
    expect(problems({ ...reactivation, entry: { event: { name: 'signup' }, api: true } })).toEqual(['input.entry: give exactly one of event, segment and api']);
    expect(problems({ ...reactivation, steps: [{ key: 'a', branch: { rule: { tag: {} }, yes: null } }] })[0]).toMatch(/^input\.steps\.0\.branch\.rule\.tag/);
  });

  it('splits contacts deterministically and in proportion', () => {
    const paths = [{ name: 'a', percent: 20, next: null }, { name: 'b', percent: 80, next: null }];
    const picks = Array.from({ length: 10_000 }, (_, i) => splitPath('j1', 'split', `contact-${i}`, paths).name);
    expect(splitPath('j1', 'split', 'contact-7', paths)).toBe(splitPath('j1', 'split', 'contact-7', paths));
    const share = picks.filter((name) => name === 'a').length / picks.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
    expect(new Set(Array.from({ length: 1000 }, (_, i) => percentileOf(String(i)))).size).toBe(100);
  });
});
