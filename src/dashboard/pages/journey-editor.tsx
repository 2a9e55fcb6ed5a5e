import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import { StepsEditor } from '../journeys/step-forms.tsx';
import { Link, navigate } from '../router.tsx';
import { Field, ProblemBox } from '../ui/form.tsx';
import { outcome, type Problem } from '../ui/outcome.ts';

const Draft = graphql(`
  query JourneyDraft($id: ID!) {
    journey(id: $id) { id name status draft }
  }
`);

const Create = graphql(`
  mutation JourneyCreate($input: JourneyInput!) {
    createJourney(input: $input) { __typename ...MoveResult ... on MutationCreateJourneySuccess { data { id } } }
  }
`);

const Update = graphql(`
  mutation JourneyUpdate($input: UpdateJourneyInput!) {
    updateJourney(input: $input) { __typename ...MoveResult ... on MutationUpdateJourneySuccess { data { id } } }
  }
`);

/** A first journey to change: a welcome push, a day's wait, and a reminder to those who did not click. */
const TEMPLATE = {
  name: 'Welcome',
  entry: { event: { name: 'signed_up' } },
  steps: [
    { key: 'welcome', send: { channel: 'WEB_PUSH', content: { title: 'Welcome!', body: 'Glad you are here', url: 'https://example.com/' }, next: 'wait' } },
    { key: 'wait', wait: { seconds: 86400, next: 'clicked' } },
    { key: 'clicked', engagement: { step: 'welcome', did: 'CLICKED', withinSeconds: 86400, no: 'reminder' } },
    { key: 'reminder', send: { channel: 'WEB_PUSH', content: { title: 'Have a look around', url: 'https://example.com/start' } } },
  ],
};

type Tab = 'steps' | 'json';

/**
 * A journey's draft, as a form per step or (advanced) as JourneyInput JSON (docs/journeys.md):
 * both edit the same object, checked by Herald on save, its problems listed by path
 * (`steps.2.wait.seconds`).
 */
export function JourneyEditor({ id }: { id?: string }) {
  const [{ data }] = useQuery({ query: Draft, variables: { id: id ?? '' }, pause: !id });
  const [text, setText] = useState(() => (id ? '' : JSON.stringify(TEMPLATE, null, 2)));
  const [value, setValue] = useState<Record<string, unknown> | undefined>(() => (id ? undefined : TEMPLATE));
  const [tab, setTab] = useState<Tab>('steps');
  const [problem, setProblem] = useState<Problem>();
  const [saving, setSaving] = useState(false);
  const [, create] = useMutation(Create);
  const [, update] = useMutation(Update);
  const draft = data?.journey?.draft;
  useEffect(() => {
    if (draft && !text) {
      setText(JSON.stringify(draft, null, 2));
      setValue(draft as Record<string, unknown>);
    }
  }, [draft, text]);

  /** The JSON as typed, or undefined with the problem shown. */
  const parsed = () => {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      setProblem({ message: `This is not JSON: ${(error as Error).message}`, fields: new Map() });
      return undefined;
    }
  };
  const switchTo = (next: Tab) => {
    setProblem(undefined);
    if (next === 'json' && value) setText(JSON.stringify(value, null, 2));
    if (next === 'steps') {
      const object = parsed();
      if (!object) return;
      setValue(object);
    }
    setTab(next);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(undefined);
    const input = tab === 'json' ? parsed() : value;
    if (!input) return;
    setSaving(true);
    const result = id ? outcome(await update({ input: { ...input, id } as never }), 'updateJourney') : outcome(await create({ input: input as never }), 'createJourney');
    setSaving(false);
    if (result.problem) return setProblem(result.problem);
    navigate(`/journeys/${(result.data as { id: string }).id}`);
  };

  return (
    <>
      <p className="crumbs">
        <Link to="/journeys">Journeys</Link> /
      </p>
      <h1 tabIndex={-1}>{id ? `Edit ${data?.journey?.name ?? 'journey'}` : 'New journey'}</h1>
      <p className="hint">
        The journey as JSON: its entry (an event, a segment or the API), exit events, goal and steps (send, wait, waitForEvent, branch, engagement,
        split). The first step is the start; a step without a next completes the journey.{id && ' A published journey takes these changes as a new version when published again.'}
      </p>
      <form onSubmit={save}>
        <div role="radiogroup" aria-label="Edit as" className="toolbar">
          {(['steps', 'json'] as const).map((one) => (
            <label key={one} className="check">
              <input type="radio" name="journey-tab" checked={tab === one} onChange={() => switchTo(one)} /> {one === 'steps' ? 'Steps' : 'JSON (advanced)'}
            </label>
          ))}
        </div>
        {tab === 'steps' ? (
          value && <StepsEditor value={value} onChange={setValue} />
        ) : (
          <Field label="Journey (JourneyInput as JSON)">
            <textarea className="code journey-json" spellCheck={false} value={text} onChange={(event) => setText(event.target.value)} />
          </Field>
        )}
        <ProblemBox problem={problem} />
        <button type="submit" disabled={saving}>
          {id ? 'Save draft' : 'Create journey'}
        </button>
      </form>
    </>
  );
}
