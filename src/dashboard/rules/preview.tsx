import { useEffect, useMemo } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { Audience, SegmentRuleInput } from '../generated/graphql.ts';
import { Link } from '../router.tsx';
import { count } from '../ui/format.ts';
import { useDebounced } from '../ui/debounce.ts';
import { EVERYONE } from './model.ts';

const Preview = graphql(`
  query PreviewAudience($rule: SegmentRuleInput!, $reachable: SegmentRuleInput!, $audience: Audience!, $sample: Int!) {
    previewSegment(rule: $rule, audience: $audience) {
      count
      sample(first: $sample) { id email externalId anonymousId firstName lastName }
    }
    reachable: previewSegment(rule: $reachable, audience: $audience) { count }
  }
`);

/** Who a channel can reach at all, as a rule, and how that is said (phones: no rule names them; counted when sending). */
const REACH: Record<string, { rule: SegmentRuleInput; words: string }> = {
  WEB_PUSH: { rule: { pushSubscribed: true }, words: 'with a browser subscribed to push' },
  EMAIL: { rule: { attribute: { path: 'email', op: 'EXISTS' } }, words: 'with an email address' },
  SMS: { rule: { attribute: { path: 'phone', op: 'EXISTS' } }, words: 'with a phone number' },
  WEBHOOK: { rule: EVERYONE, words: 'reached by the webhook' },
  IN_APP: { rule: EVERYONE, words: 'shown it at their next visit to your site' },
};

/**
 * The live count of a rule (asked again after each pause in editing), how many of them the
 * channel can reach (a browser subscribed to push, an email address, a phone number; consent is
 * checked when sending), and a sample. Returns the field errors the rule has, by path.
 */
export function AudiencePreview({
  rule,
  audience,
  sample = 5,
  channel = 'WEB_PUSH',
  onErrors,
}: {
  rule: unknown;
  audience: Audience;
  sample?: number;
  channel?: string;
  onErrors?: (errors: Map<string, string>) => void;
}) {
  const reach = REACH[channel];
  const settled = useDebounced(JSON.stringify(rule));
  const variables = useMemo(() => {
    const parsed = JSON.parse(settled) as SegmentRuleInput;
    return { rule: parsed, reachable: reach ? { and: [parsed, reach.rule] } : parsed, audience, sample };
  }, [settled, audience, sample, reach]);
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
          {data && reach && <> · {count(data.reachable.count)} {reach.words}</>}
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
