import { useLayoutEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { CampaignStatus } from '../generated/graphql.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { count, dateTime, words } from '../ui/format.ts';
import { useDeliveryActivity } from '../ui/live.ts';

const CampaignList = graphql(`
  query CampaignList($first: Int!, $after: String, $status: [CampaignStatus!]) {
    campaigns(first: $first, after: $after, status: $status) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id name kind channel status createdAt
          schedule { sendAt }
          stats { targeted sent displayed clicked conversions }
        }
      }
    }
  }
`);

export const STATUSES: CampaignStatus[] = ['DRAFT', 'SCHEDULED', 'SENDING', 'SENT', 'ACTIVE', 'PAUSED', 'CANCELED', 'ARCHIVED'];
/** The largest page Herald serves. */
const PAGE = 100;

/** Campaigns, newest first, filtered by status, their counts refreshed while messages move. */
export function Campaigns() {
  const { search } = useLocation();
  const status = search.get('status') as CampaignStatus | null;
  // One cursor per page shown: "Show more" adds the last page's end.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, fetching, error }] = useQuery({ query: CampaignList, variables: { first: PAGE, after: null, status: status ? [status] : null } });

  const filter = (next: string) => {
    setCursors([null]);
    navigate(next ? `/campaigns?status=${next}` : '/campaigns', { replace: true });
  };

  return (
    <>
      <div className="section-head">
        <h1 tabIndex={-1}>Campaigns</h1>
        <Link className="button" to="/campaigns/new">
          New campaign
        </Link>
      </div>
      <div className="toolbar">
        <label>
          Status{' '}
          <select value={status ?? ''} onChange={(event) => filter(event.target.value)}>
            <option value="">All but archived</option>
            {STATUSES.map((one) => (
              <option key={one} value={one}>
                {words(one)}
              </option>
            ))}
          </select>
        </label>
        <span aria-live="polite">{data ? `${count(data.campaigns.totalCount)} campaigns` : fetching ? 'Loading…' : ''}</span>
      </div>
      {error && <p className="problem">{error.message}</p>}
      {data && !data.campaigns.totalCount ? (
        <p>
          No campaigns{status ? ` ${words(status)}` : ''} yet. <Link to="/campaigns/new">Create one</Link>.
        </p>
      ) : (
        <table className="list" aria-label="Campaigns">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              {['Targeted', 'Sent', 'Displayed', 'Clicked', 'Conversions'].map((label) => (
                <th scope="col" className="num" key={label}>
                  {label}
                </th>
              ))}
              <th scope="col">Created</th>
            </tr>
          </thead>
          {cursors.map((after, index) => (
            <Rows key={after ?? ''} after={after} status={status} onMore={index === cursors.length - 1 ? (end) => setCursors([...cursors, end]) : undefined} />
          ))}
        </table>
      )}
    </>
  );
}

/** One page of rows; the last page offers the next. */
function Rows({ after, status, onMore }: { after: string | null; status: CampaignStatus | null; onMore?: (endCursor: string) => void }) {
  const [{ data, fetching }, refetch] = useQuery({ query: CampaignList, variables: { first: PAGE, after, status: status ? [status] : null } });
  useDeliveryActivity(() => refetch({ requestPolicy: 'network-only' }));
  const rows = data?.campaigns.edges ?? [];

  // From the data's arrival to the rows on screen, for the browser test's figure.
  const arrived = useRef(0);
  if (data && !arrived.current) arrived.current = performance.now();
  useLayoutEffect(() => {
    if (!arrived.current || !rows.length) return;
    performance.measure('campaign-list-render', { start: arrived.current, end: performance.now() });
  }, [rows]);

  const { hasNextPage, endCursor } = data?.campaigns.pageInfo ?? {};
  return (
    <tbody>
      {rows.map(({ node }) => (
        <tr key={node.id}>
          <td>
            <Link to={`/campaigns/${node.id}`}>{node.name}</Link>
          </td>
          <td>
            <span className={`badge ${node.status.toLowerCase()}`}>{words(node.status)}</span>
          </td>
          <td>
            {words(node.kind)} · {words(node.channel)}
          </td>
          <td className="num">{count(node.stats.targeted)}</td>
          <td className="num">{count(node.stats.sent)}</td>
          <td className="num">{count(node.stats.displayed)}</td>
          <td className="num">{count(node.stats.clicked)}</td>
          <td className="num">{count(node.stats.conversions)}</td>
          <td>{dateTime(node.createdAt)}</td>
        </tr>
      ))}
      {onMore && hasNextPage && endCursor && (
        <tr>
          <td colSpan={9}>
            <button type="button" className="quiet" onClick={() => onMore(endCursor)} disabled={fetching}>
              Show {PAGE} more
            </button>
          </td>
        </tr>
      )}
    </tbody>
  );
}
