import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { MessageReason, MessageStatus } from '../generated/graphql.ts';
import { Link } from '../router.tsx';
import { dateTime, words } from '../ui/format.ts';
import { MESSAGE_STATUSES, REASONS } from '../ui/reasons.ts';

const Messages = graphql(`
  query CampaignMessages($id: ID!, $status: MessageStatus, $reason: MessageReason, $after: String) {
    campaign(id: $id) {
      id
      messages(first: 50, after: $after, status: $status, reason: $reason) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges {
          node {
            id status reason error sentAt displayedAt clickedAt test
            contact { id externalId email anonymousId }
          }
        }
      }
    }
  }
`);

/** The campaign's ledger: every message, filterable by status and reason, each with its "why". */
export function CampaignMessages({ campaignId, timeZone, live }: { campaignId: string; timeZone?: string; live?: string }) {
  const [status, setStatus] = useState<MessageStatus | ''>('');
  const [reason, setReason] = useState<MessageReason | ''>('');
  const [after, setAfter] = useState<string | null>(null);
  const [{ data }, refetch] = useQuery({ query: Messages, variables: { id: campaignId, status: status || null, reason: reason || null, after } });
  // The live stats moved: the rows did too.
  useEffect(() => {
    if (live) refetch({ requestPolicy: 'network-only' });
  }, [live, refetch]);

  const messages = data?.campaign?.messages;
  return (
    <section aria-labelledby="messages">
      <h2 id="messages">Messages</h2>
      <div className="toolbar">
        <label>
          Status{' '}
          <select value={status} onChange={(event) => (setStatus(event.target.value as MessageStatus), setAfter(null))}>
            <option value="">Any</option>
            {MESSAGE_STATUSES.map((one) => (
              <option key={one} value={one}>
                {words(one)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Reason{' '}
          <select value={reason} onChange={(event) => (setReason(event.target.value as MessageReason), setAfter(null))}>
            <option value="">Any</option>
            {Object.keys(REASONS).map((one) => (
              <option key={one} value={one}>
                {words(one)}
              </option>
            ))}
          </select>
        </label>
        <span aria-live="polite">{messages ? `${messages.totalCount} messages` : ''}</span>
      </div>
      <MessageTable rows={messages?.edges.map((edge) => edge.node) ?? []} timeZone={timeZone} />
      {(after || messages?.pageInfo.hasNextPage) && (
        <div className="toolbar">
          {after && (
            <button type="button" className="quiet" onClick={() => setAfter(null)}>
              First page
            </button>
          )}
          {messages?.pageInfo.hasNextPage && (
            <button type="button" className="quiet" onClick={() => setAfter(messages.pageInfo.endCursor ?? null)}>
              Next page
            </button>
          )}
        </div>
      )}
    </section>
  );
}

interface Row {
  id: string;
  status: string;
  reason?: string | null;
  error?: string | null;
  sentAt?: string | null;
  displayedAt?: string | null;
  clickedAt?: string | null;
  test: boolean;
  contact?: { id: string; externalId?: string | null; email?: string | null; anonymousId?: string | null };
  campaign?: { id: string; name: string };
}

/** Messages with their status and reason, in words: the answer to "why did (not) they get it?". */
export function MessageTable({ rows, timeZone }: { rows: Row[]; timeZone?: string }) {
  if (!rows.length) return <p className="hint">No messages.</p>;
  return (
    <table className="list">
      <thead>
        <tr>
          <th scope="col">{rows[0]!.campaign ? 'Campaign' : 'Contact'}</th>
          <th scope="col">Status</th>
          <th scope="col">Why</th>
          <th scope="col">Sent</th>
          <th scope="col">Displayed</th>
          <th scope="col">Clicked</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.id} data-message={row.id}>
            <td>
              {row.campaign ? (
                <Link to={`/campaigns/${row.campaign.id}`}>{row.campaign.name}</Link>
              ) : row.contact ? (
                <Link to={`/contacts/${row.contact.id}`}>{row.contact.email ?? row.contact.externalId ?? `visitor ${row.contact.anonymousId?.slice(0, 8) ?? ''}`}</Link>
              ) : null}
              {row.test && <span className="badge"> test</span>}
            </td>
            <td>
              <span className={`badge ${row.status.toLowerCase()}`}>{words(row.status)}</span>
            </td>
            <td className="why">
              {row.reason ? (
                <>
                  <strong>{words(row.reason)}</strong>: {REASONS[row.reason] ?? ''}
                </>
              ) : (
                'Waiting to be sent.'
              )}
              {row.error && <div className="hint">{row.error}</div>}
            </td>
            <td>{dateTime(row.sentAt, timeZone)}</td>
            <td>{dateTime(row.displayedAt, timeZone)}</td>
            <td>{dateTime(row.clickedAt, timeZone)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
