import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { Audience } from '../generated/graphql.ts';
import { Link, navigate } from '../router.tsx';
import { RuleBuilder } from '../rules/builder.tsx';
import { emptyGroup, type Group, rootOf, toRule } from '../rules/model.ts';
import { AudiencePreview } from '../rules/preview.tsx';
import { Field, ProblemBox } from '../ui/form.tsx';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';

const SegmentQuery = graphql(`
  query SegmentEdit($id: ID!) {
    segment(id: $id) { id name audience rule }
  }
`);

const Save = graphql(`
  mutation SaveSegment($create: MutationCreateSegmentInput!, $update: MutationUpdateSegmentInput!, $isNew: Boolean!) {
    createSegment(input: $create) @include(if: $isNew) {
      __typename
      ... on MutationCreateSegmentSuccess { data { id name size } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
    updateSegment(input: $update) @skip(if: $isNew) {
      __typename
      ... on MutationUpdateSegmentSuccess { data { id name size } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const Delete = graphql(`
  mutation DeleteSegment($id: ID!) {
    deleteSegment(input: { id: $id }) {
      __typename
      ... on MutationDeleteSegmentSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

/** Builds a segment's rule with its live count and a sample, and saves it. */
export function SegmentEditor({ id }: { id?: string }) {
  const [{ data }] = useQuery({ query: SegmentQuery, variables: { id: id ?? '' }, pause: !id });
  const [name, setName] = useState('');
  const [audience, setAudience] = useState<Audience>('ALL');
  const [root, setRoot] = useState<Group>(emptyGroup);
  const [problem, setProblem] = useState<Problem>();
  const [ruleErrors, setRuleErrors] = useState<Map<string, string>>(new Map());
  const [saving, save] = useMutation(Save);
  const [, remove] = useMutation(Delete);

  useEffect(() => {
    const segment = data?.segment;
    if (!segment) return;
    setName(segment.name);
    setAudience(segment.audience);
    setRoot(rootOf(segment.rule as Record<string, unknown>));
  }, [data]);

  const onPreviewErrors = useCallback((errors: Map<string, string>) => setRuleErrors(errors), []);
  const rule = toRule(root);
  // Errors from saving name the rule as "rule.…"; the preview's are already under the rule.
  const errors = new Map(ruleErrors);
  for (const [path, message] of problem?.fields ?? []) if (path.startsWith('rule.')) errors.set(path.slice(5), message);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await save({ isNew: !id, create: { name, audience, rule }, update: { id: id ?? '', name, audience, rule } });
    const saved = outcome(result, id ? 'updateSegment' : 'createSegment');
    setProblem(saved.problem);
    if (saved.data && !id) navigate(`/segments/${(saved.data as { id: string }).id}`, { replace: true });
  };
  const destroy = async () => {
    if (!id || !confirm(`Delete the segment “${name}”?`)) return;
    const result = outcome(await remove({ id }), 'deleteSegment');
    if (result.problem) setProblem(result.problem);
    else navigate('/segments');
  };

  return (
    <>
      <p className="crumbs">
        <Link to="/segments">Segments</Link> /
      </p>
      <h1 tabIndex={-1}>{id ? name || 'Segment' : 'New segment'}</h1>
      <form onSubmit={submit} className="segment-form">
        <div className="columns">
          <div>
            <Field label="Name" error={fieldError(problem, 'name')}>
              <input required value={name} onChange={(event) => setName(event.target.value)} />
            </Field>
            <Field label="Who" error={fieldError(problem, 'audience')}>
              <select value={audience} onChange={(event) => setAudience(event.target.value as Audience)}>
                <option value="ALL">Everyone</option>
                <option value="IDENTIFIED">Identified customers only</option>
                <option value="ANONYMOUS">Anonymous visitors only</option>
              </select>
            </Field>
            <RuleBuilder root={root} onChange={setRoot} errors={errors} />
          </div>
          <aside aria-label="Live count">
            <h2>Matches now</h2>
            <AudiencePreview rule={rule} audience={audience} onErrors={onPreviewErrors} />
          </aside>
        </div>
        <ProblemBox problem={problem} shown={['name', 'audience', 'rule']} />
        <div className="toolbar">
          <button type="submit" disabled={saving.fetching}>
            {id ? 'Save segment' : 'Create segment'}
          </button>
          {id && (
            <button type="button" className="quiet danger" onClick={destroy}>
              Delete
            </button>
          )}
        </div>
        {saving.data && !problem && <p role="status">Saved.</p>}
      </form>
    </>
  );
}
