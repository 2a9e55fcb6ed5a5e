import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { JourneyStatus } from '../generated/graphql.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { count, dateTime, words } from '../ui/format.ts';
import { useDeliveryActivity } from '../ui/live.ts';

const JourneyList = graphql(`
  query JourneyList($status: [JourneyStatus!]) {
    journeys(first: 100, status: $status) {
      totalCount
      edges {
        node {
          id name status version updatedAt
          stats { entered active completed exited converted }
        }
      }
    }
  }
`);

const STATUSES: JourneyStatus[] = ['DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED'];

/** Journeys, newest first, with their status and how many contacts are in them. */
export function Journeys() {
  const { search } = useLocation();
  const status = search.get('status') as JourneyStatus | null;
  const [{ data, fetching, error }, refetch] = useQuery({ query: JourneyList, variables: { status: status ? [status] : null } });
  // Contacts move through journeys as their messages move: re-read the figures then.
  useDeliveryActivity(() => refetch({ requestPolicy: 'network-only' }));
  const rows = data?.journeys.edges ?? [];

  return (
    <>
      <div className="section-head">
        <h1 tabIndex={-1}>Journeys</h1>
        <Link className="button" to="/journeys/new">
          New journey
        </Link>
      </div>
      <div className="toolbar">
        <label>
          Status{' '}
          <select value={status ?? ''} onChange={(event) => navigate(event.target.value ? `/journeys?status=${event.target.value}` : '/journeys', { replace: true })}>
            <option value="">All but archived</option>
            {STATUSES.map((one) => (
              <option key={one} value={one}>
                {words(one)}
              </option>
            ))}
          </select>
        </label>
        <span aria-live="polite">{data ? `${count(data.journeys.totalCount)} journeys` : fetching ? 'Loading…' : ''}</span>
      </div>
      {error && <p className="problem">{error.message}</p>}
      {data && rows.length === 0 ? (
        <p>
          No journeys{status ? ` ${words(status)}` : ''} yet. <Link to="/journeys/new">Create one</Link>.
        </p>
      ) : (
        <table className="list" aria-label="Journeys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Version
              </th>
              {['Entered', 'In it now', 'Completed', 'Exited', 'Converted'].map((label) => (
                <th scope="col" className="num" key={label}>
                  {label}
                </th>
              ))}
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ node }) => (
              <tr key={node.id}>
                <td>
                  <Link to={`/journeys/${node.id}`}>{node.name}</Link>
                </td>
                <td>
                  <span className={`badge ${node.status.toLowerCase()}`}>{words(node.status)}</span>
                </td>
                <td className="num">{node.version || '—'}</td>
                <td className="num">{count(node.stats.entered)}</td>
                <td className="num">{count(node.stats.active)}</td>
                <td className="num">{count(node.stats.completed)}</td>
                <td className="num">{count(node.stats.exited)}</td>
                <td className="num">{count(node.stats.converted)}</td>
                <td>{dateTime(node.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
