import { describe, expect, it } from 'vitest';
import { graphql } from './generated/index.ts';
import { dataOf } from './kit/client.ts';
import { useHerald } from './kit/fixture.ts';

const Settings = graphql(`
  query SettingsOfViewer {
    viewer { settings { timezone quietHours { start end } frequencyCaps { limit period } consentTag } }
  }
`);
const UpdateSettings = graphql(`
  mutation SettingsUpdate($input: MutationUpdateWorkspaceSettingsInput!) {
    updateWorkspaceSettings(input: $input) {
      __typename
      ... on MutationUpdateWorkspaceSettingsSuccess {
        data { settings { timezone quietHours { start end } frequencyCaps { limit period } consentTag } }
      }
      ... on ValidationError { code message fieldErrors { path message } }
    }
  }
`);

const h = useHerald({}, { push: false });
const shop = h.useWorkspace();


describe('updateWorkspaceSettings', () => {
  it('starts with defaults', async () => {
    expect(dataOf(await shop.secret(Settings)).viewer.settings).toEqual({
      timezone: 'UTC',
      quietHours: null,
      frequencyCaps: [],
      consentTag: 'consented',
    });
  });

  it('saves valid settings', async () => {
    const input = {
      timezone: 'Europe/Warsaw',
      quietHours: { start: '22:00', end: '08:00' },
      frequencyCaps: [{ limit: 3, period: 'DAY' as const }, { limit: 10, period: 'WEEK' as const }],
      consentTag: 'push-optin',
    };
    const result = dataOf(await shop.secret(UpdateSettings, { input })).updateWorkspaceSettings;
    expect(result).toEqual({ __typename: 'MutationUpdateWorkspaceSettingsSuccess', data: { settings: input } });
    expect(dataOf(await shop.secret(Settings)).viewer.settings).toEqual(input);
  });

  it.each([
    ['a bad time zone', { timezone: 'Mars/Olympus' }, ['input', 'timezone']],
    ['an offset instead of a zone', { timezone: '+01:00' }, ['input', 'timezone']],
    // Intl reads it (as America/Los_Angeles), Temporal, which delivery windows use, refuses it.
    ['an ICU three-letter zone ID', { timezone: 'PST' }, ['input', 'timezone']],
    ['25:00', { quietHours: { start: '25:00', end: '07:00' } }, ['input', 'quietHours', 'start']],
    ['a time without minutes', { quietHours: { start: '22:00', end: '7' } }, ['input', 'quietHours', 'end']],
    ['a negative cap', { frequencyCaps: [{ limit: -1, period: 'DAY' as const }] }, ['input', 'frequencyCaps', '0', 'limit']],
    ['two caps for one period', { frequencyCaps: [{ limit: 1, period: 'DAY' as const }, { limit: 2, period: 'DAY' as const }] }, ['input', 'frequencyCaps']],
    ['an empty consent tag', { consentTag: '  ' }, ['input', 'consentTag']],
  ])('answers %s with a ValidationError and changes nothing', async (_name, bad, path) => {
    const before = dataOf(await shop.secret(Settings)).viewer.settings;
    // A valid field beside the bad one must not be saved either.
    const input = { consentTag: 'changed-tag', ...bad };
    const result = dataOf(await shop.secret(UpdateSettings, { input })).updateWorkspaceSettings;
    expect(result.__typename).toBe('ValidationError');
    if (result.__typename !== 'ValidationError') return;
    expect(result.code).toBe('validation/invalid_input');
    expect(result.fieldErrors.map((error) => error.path)).toContainEqual(path);
    expect(dataOf(await shop.secret(Settings)).viewer.settings).toEqual(before);
  });

  it('stores a time zone by its canonical name', async () => {
    const result = dataOf(await shop.secret(UpdateSettings, { input: { timezone: 'europe/warsaw' } })).updateWorkspaceSettings;
    expect(result).toMatchObject({ data: { settings: { timezone: 'Europe/Warsaw' } } });
    const cet = dataOf(await shop.secret(UpdateSettings, { input: { timezone: 'CET' } })).updateWorkspaceSettings;
    expect(cet).toMatchObject({ data: { settings: { timezone: 'Europe/Brussels' } } });
  });

  it('clears quiet hours with null', async () => {
    await shop.secret(UpdateSettings, { input: { quietHours: { start: '21:00', end: '09:00' } } });
    const result = dataOf(await shop.secret(UpdateSettings, { input: { quietHours: null } })).updateWorkspaceSettings;
    expect(result).toMatchObject({ data: { settings: { quietHours: null } } });
  });
});
