import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import { Link } from '../router.tsx';
import { count, dateTime, words } from '../ui/format.ts';

const SegmentList = graphql(`
  query SegmentList {
    segments(first: 100) {
      totalCount
      edges { node { id name audience size updatedAt } }
    }
  }
`);

/** Saved segments with their size now. */
export function Segments() {
  const [{ data, error }] = useQuery({ query: SegmentList });
  const rows = data?.segments.edges ?? [];
  return (
    <>
      <div className="section-head">
        <h1 tabIndex={-1}>Segments</h1>
        <Link className="button" to="/segments/new">
          New segment
        </Link>
      </div>
      {error && <p className="problem">{error.message}</p>}
      {data && !rows.length ? (
        <p>
          No segments yet. A segment is a rule over your contacts (“added to cart in the last 7 days, no purchase”); campaigns target them. <Link to="/segments/new">Build one</Link>.
        </p>
      ) : (
        <table className="list" aria-label="Segments">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Audience</th>
              <th scope="col" className="num">
                Contacts now
              </th>
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ node }) => (
              <tr key={node.id}>
                <td>
                  <Link to={`/segments/${node.id}`}>{node.name}</Link>
                </td>
                <td>{words(node.audience)}</td>
                <td className="num">{count(node.size)}</td>
                <td>{dateTime(node.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
