import { type FormEvent, useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { SegmentRuleInput } from '../generated/graphql.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { count, dateTime } from '../ui/format.ts';

const ContactSearch = graphql(`
  query ContactSearch($segment: SegmentRuleInput, $after: String) {
    contacts(first: 50, after: $after, segment: $segment) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id email externalId anonymousId firstName lastName tags lastSeenAt identified
          pushSubscriptions { id status }
        }
      }
    }
  }
`);

/** Everything a search term may be: part of the email, the external id, a name, or a tag. */
function searchRule(term: string): SegmentRuleInput {
  const contains = (path: string) => ({ attribute: { path, op: 'CONTAINS' as const, value: term } });
  return { or: [contains('email'), contains('externalId'), contains('firstName'), contains('lastName'), contains('anonymousId'), { tag: { has: term } }] };
}

/** Contacts, searched by email, external id, name or tag. */
export function Contacts() {
  const { search } = useLocation();
  const term = search.get('q') ?? '';
  const [typed, setTyped] = useState(term);
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, error, fetching }] = useQuery({ query: ContactSearch, variables: { segment: term ? searchRule(term) : null, after } });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAfter(null);
    navigate(typed.trim() ? `/contacts?q=${encodeURIComponent(typed.trim())}` : '/contacts', { replace: true });
  };
  const contacts = data?.contacts;
  return (
    <>
      <h1 tabIndex={-1}>Contacts</h1>
      <form role="search" onSubmit={submit} className="inline">
        <label htmlFor="contact-search">Search contacts</label>
        <input id="contact-search" type="search" value={typed} onChange={(event) => setTyped(event.target.value)} placeholder="email, external id, name or tag" />
        <button type="submit">Search</button>
        <span aria-live="polite">{contacts ? `${count(contacts.totalCount)} contacts` : fetching ? 'Searching…' : ''}</span>
      </form>
      {error && <p className="problem">{error.message}</p>}
      {contacts && (
        <table className="list" aria-label="Contacts">
          <thead>
            <tr>
              <th scope="col">Contact</th>
              <th scope="col">External id</th>
              <th scope="col">Tags</th>
              <th scope="col">Push</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {contacts.edges.map(({ node }) => (
              <tr key={node.id}>
                <td>
                  <Link to={`/contacts/${node.id}`}>{contactName(node)}</Link>
                </td>
                <td>{node.externalId ?? '—'}</td>
                <td>{node.tags.join(', ') || '—'}</td>
                <td>{node.pushSubscriptions.filter((one) => one.status === 'ACTIVE').length} browsers</td>
                <td>{dateTime(node.lastSeenAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {contacts?.pageInfo.hasNextPage && (
        <button type="button" className="quiet" onClick={() => setAfter(contacts.pageInfo.endCursor ?? null)}>
          Next page
        </button>
      )}
    </>
  );
}

export function contactName(contact: { firstName?: string | null; lastName?: string | null; email?: string | null; externalId?: string | null; anonymousId?: string | null }): string {
  const name = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return name || contact.email || contact.externalId || `Anonymous visitor ${contact.anonymousId?.slice(0, 8) ?? ''}`;
}
