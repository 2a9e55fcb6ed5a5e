import { useEffect, useMemo } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { Audience, SegmentRuleInput } from '../generated/graphql.ts';
import { Link } from '../router.tsx';
import { count } from '../ui/format.ts';
import { useDebounced } from '../ui/debounce.ts';

const Preview = graphql(`
  query PreviewAudience($rule: SegmentRuleInput!, $reachable: SegmentRuleInput!, $audience: Audience!, $sample: Int!) {
    previewSegment(rule: $rule, audience: $audience) {
      count
      sample(first: $sample) { id email externalId anonymousId firstName lastName }
    }
    reachable: previewSegment(rule: $reachable, audience: $audience) { count }
  }
`);

/**
 * The live count of a rule (asked again after each pause in editing), how many of them have a
 * browser subscribed to push, and a sample. Returns the field errors the rule has, by path.
 */
export function AudiencePreview({ rule, audience, sample = 5, onErrors }: { rule: unknown; audience: Audience; sample?: number; onErrors?: (errors: Map<string, string>) => void }) {
  const settled = useDebounced(JSON.stringify(rule));
  const variables = useMemo(() => {
    const parsed = JSON.parse(settled) as SegmentRuleInput;
    return { rule: parsed, reachable: { and: [parsed, { pushSubscribed: true }] }, audience, sample };
  }, [settled, audience, sample]);
  const [{ data, error, fetching }] = useQuery({ query: Preview, variables, requestPolicy: 'network-only' });
  // The rule's own errors (not those of the "reachable" count, which wraps it), by path under the rule.
  const problems = useMemo(() => {
    const errors = new Map<string, string>();
    for (const one of error?.graphQLErrors ?? []) {
      if (one.path?.[0] !== 'previewSegment') continue;
      for (const field of (one.extensions?.fieldErrors as { path: string[]; message: string }[] | undefined) ?? []) {
        errors.set(field.path.slice(1).join('.'), field.message);
      }
    }
    return errors;
  }, [error]);
  useEffect(() => onErrors?.(problems), [problems, onErrors]);

  const preview = data?.previewSegment;
  return (
    <div className="preview-count" aria-live="polite" aria-busy={fetching}>
      {error ? (
        <p className="error">This rule cannot be counted yet: {error.graphQLErrors[0]?.message ?? error.message}</p>
      ) : (
        <p>
          <strong data-testid="audience-count">{preview ? count(preview.count) : '…'}</strong> contacts
          {data && <> · {count(data.reachable.count)} with a browser subscribed to push</>}
        </p>
      )}
      {preview && preview.sample.length > 0 && (
        <ul className="sample" aria-label="Some of them">
          {preview.sample.map((contact) => (
            <li key={contact.id}>
              <Link to={`/contacts/${contact.id}`}>
                {[contact.firstName, contact.lastName].filter(Boolean).join(' ') || contact.email || contact.externalId || `visitor ${contact.anonymousId?.slice(0, 8) ?? ''}`}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
