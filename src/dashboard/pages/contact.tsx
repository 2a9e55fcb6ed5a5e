import { useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { MessageReason, MessageStatus } from '../generated/graphql.ts';
import { Link } from '../router.tsx';
import { dateTime, words } from '../ui/format.ts';
import { MESSAGE_STATUSES, REASONS } from '../ui/reasons.ts';
import type { ContactPageQuery } from '../generated/graphql.ts';
import { channelName } from '../journeys/steps.ts';
import { MessageTable } from './campaign-messages.tsx';
import { contactName } from './contacts.tsx';

const ContactQuery = graphql(`
  query ContactPage($id: ID!, $status: MessageStatus, $reason: MessageReason) {
    viewer { id settings { timezone } }
    contact(id: $id) {
      id externalId anonymousId email phone firstName lastName locale timezone attributes tags identified
      consentedAt lastSeenAt createdAt
      emailStatus emailStatusAt emailStatusSource smsStatus smsStatusAt smsStatusSource
      pushSubscriptions { id endpoint status userAgent timezone createdAt revokedAt }
      devices { id platform appId appVersion status createdAt }
      journeys {
        id status step version enteredAt endedAt convertedAt waitingUntil
        journey { id name }
        path { step outcome at passedAt channel reason }
      }
      events(first: 50) { totalCount edges { node { id name properties occurredAt } } }
      messages(first: 50, status: $status, reason: $reason) {
        totalCount
        edges {
          node {
            id status reason error sentAt displayedAt clickedAt test
            campaign { id name }
          }
        }
      }
    }
  }
`);

/** A contact's story: who they are, what they agreed to, what they did, and every message with its why. */
export function ContactPage({ id }: { id: string }) {
  const [status, setStatus] = useState<MessageStatus | ''>('');
  const [reason, setReason] = useState<MessageReason | ''>('');
  const [{ data, error }] = useQuery({ query: ContactQuery, variables: { id, status: status || null, reason: reason || null } });
  if (error) return <p className="problem">{error.message}</p>;
  const contact = data?.contact;
  const timeZone = data?.viewer.settings.timezone;
  if (data && !contact) {
    return (
      <>
        <h1 tabIndex={-1}>Contact not found</h1>
        <Link to="/contacts">All contacts</Link>
      </>
    );
  }
  if (!contact) return <p aria-busy="true">Loading…</p>;
  const attributes = Object.entries((contact.attributes ?? {}) as Record<string, unknown>);
  const activeBrowsers = contact.pushSubscriptions.filter((one) => one.status === 'ACTIVE').length;

  return (
    <>
      <p className="crumbs">
        <Link to="/contacts">Contacts</Link> /
      </p>
      <h1 tabIndex={-1}>{contactName(contact)}</h1>
      <div className="columns">
        <section aria-labelledby="profile">
          <h2 id="profile">Profile</h2>
          <dl className="details">
            <dt>Email</dt>
            <dd>{contact.email ?? '—'}</dd>
            <dt>External id</dt>
            <dd>{contact.externalId ?? '—'}</dd>
            <dt>Anonymous id</dt>
            <dd>{contact.anonymousId ?? '—'}</dd>
            <dt>Phone</dt>
            <dd>{contact.phone ?? '—'}</dd>
            <dt>Locale, zone</dt>
            <dd>
              {contact.locale ?? '—'}, {contact.timezone ?? 'workspace zone'}
            </dd>
            <dt>Identified</dt>
            <dd>{contact.identified ? 'Yes' : 'No, an anonymous visitor'}</dd>
            <dt>First seen</dt>
            <dd>{dateTime(contact.createdAt, timeZone)}</dd>
            <dt>Last seen</dt>
            <dd>{dateTime(contact.lastSeenAt, timeZone)}</dd>
            <dt>Tags</dt>
            <dd>{contact.tags.length ? contact.tags.map((tag) => <span className="badge" key={tag}>{tag}</span>) : '—'}</dd>
          </dl>
          <h3>Attributes</h3>
          {attributes.length ? (
            <dl className="details">
              {attributes.map(([key, value]) => (
                <div key={key}>
                  <dt>{key}</dt>
                  <dd>{typeof value === 'object' ? JSON.stringify(value) : String(value)}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="hint">None.</p>
          )}
        </section>
        <section aria-labelledby="consent">
          <h2 id="consent">Consent</h2>
          <table className="list compact">
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Status</th>
                <th scope="col">Since, by</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <td>Web push</td>
                <td>{activeBrowsers ? `Subscribed (${activeBrowsers} browser${activeBrowsers > 1 ? 's' : ''})` : 'Not subscribed'}</td>
                <td>{dateTime(contact.consentedAt, timeZone)}</td>
              </tr>
              <tr>
                <td>Email</td>
                <td>{words(contact.emailStatus)}</td>
                <td>
                  {dateTime(contact.emailStatusAt, timeZone)}
                  {contact.emailStatusSource && `, ${contact.emailStatusSource}`}
                </td>
              </tr>
              <tr>
                <td>SMS</td>
                <td>{words(contact.smsStatus)}</td>
                <td>
                  {dateTime(contact.smsStatusAt, timeZone)}
                  {contact.smsStatusSource && `, ${contact.smsStatusSource}`}
                </td>
              </tr>
            </tbody>
          </table>
          <h3>Browsers</h3>
          {contact.pushSubscriptions.length ? (
            <ul className="plain">
              {contact.pushSubscriptions.map((subscription) => (
                <li key={subscription.id}>
                  <span className={`badge ${subscription.status.toLowerCase()}`}>{words(subscription.status)}</span> {subscription.userAgent ?? 'unknown browser'} at{' '}
                  {new URL(subscription.endpoint).host}, since {dateTime(subscription.createdAt, timeZone)}
                </li>
              ))}
            </ul>
          ) : (
            <p className="hint">No browser subscribed: web push campaigns skip this contact (no subscription).</p>
          )}
          <h3>Phones</h3>
          {contact.devices.length ? (
            <ul className="plain" aria-label="Phones">
              {contact.devices.map((device) => (
                <li key={device.id}>
                  <span className={`badge ${device.status.toLowerCase()}`}>{words(device.status)}</span> {device.platform === 'IOS' ? 'iOS' : 'Android'} · {device.appId}
                  {device.appVersion && ` ${device.appVersion}`}, since {dateTime(device.createdAt, timeZone)}
                </li>
              ))}
            </ul>
          ) : (
            <p className="hint">No phone registered: mobile push campaigns skip this contact.</p>
          )}
        </section>
      </div>
      <section aria-labelledby="contact-messages">
        <h2 id="contact-messages">Messages ({contact.messages.totalCount})</h2>
        <div className="toolbar">
          <label>
            Status{' '}
            <select value={status} onChange={(event) => setStatus(event.target.value as MessageStatus)}>
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
            <select value={reason} onChange={(event) => setReason(event.target.value as MessageReason)}>
              <option value="">Any</option>
              {Object.keys(REASONS).map((one) => (
                <option key={one} value={one}>
                  {words(one)}
                </option>
              ))}
            </select>
          </label>
        </div>
        <MessageTable rows={contact.messages.edges.map((edge) => edge.node)} timeZone={timeZone} />
      </section>
      <JourneyPaths enrolments={contact.journeys} timeZone={timeZone} />
      <section aria-labelledby="events">
        <h2 id="events">Events ({contact.events.totalCount})</h2>
        {contact.events.edges.length ? (
          <ol className="timeline">
            {contact.events.edges.map(({ node }) => (
              <li key={node.id}>
                <time dateTime={node.occurredAt}>{dateTime(node.occurredAt, timeZone)}</time> <strong>{node.name}</strong>{' '}
                {Object.keys(node.properties as object).length > 0 && <code>{JSON.stringify(node.properties)}</code>}
              </li>
            ))}
          </ol>
        ) : (
          <p className="hint">No events yet.</p>
        )}
      </section>
    </>
  );
}

type Enrolment = NonNullable<ContactPageQuery['contact']>['journeys'][number];

/** Every journey the contact entered: each step they took, when, and how they left it (or why a send was not sent). */
function JourneyPaths({ enrolments, timeZone }: { enrolments: Enrolment[]; timeZone?: string }) {
  return (
    <section aria-labelledby="contact-journeys">
      <h2 id="contact-journeys">Journeys ({enrolments.length})</h2>
      {enrolments.length === 0 ? (
        <p className="hint">Not in any journey.</p>
      ) : (
        enrolments.map((enrolment) => (
          <div key={enrolment.id} data-enrolment={enrolment.journey.name} className="enrolment">
            <p>
              <Link to={`/journeys/${enrolment.journey.id}`}>{enrolment.journey.name}</Link> <span className={`badge ${enrolment.status.toLowerCase()}`}>{words(enrolment.status)}</span>{' '}
              <span className="hint">
                version {enrolment.version}, entered {dateTime(enrolment.enteredAt, timeZone)}
                {enrolment.endedAt && `, ended ${dateTime(enrolment.endedAt, timeZone)}`}
                {enrolment.convertedAt && `, converted ${dateTime(enrolment.convertedAt, timeZone)}`}
              </span>
            </p>
            <ol className="timeline path" aria-label={`Path through ${enrolment.journey.name}`}>
              {enrolment.path.map((entry, index) => (
                <li key={`${entry.step}-${index}`}>
                  <strong>{entry.step}</strong>: <span className="outcome">{outcomeText(entry)}</span>{' '}
                  <time dateTime={entry.at}>{dateTime(entry.at, timeZone)}</time>
                  {entry.outcome === 'waiting' && enrolment.waitingUntil && <> until {dateTime(enrolment.waitingUntil, timeZone)}</>}
                </li>
              ))}
            </ol>
          </div>
        ))
      )}
    </section>
  );
}

function outcomeText(entry: Enrolment['path'][number]): string {
  if (entry.outcome === 'sent') return `sent${entry.channel ? ` by ${channelName(entry.channel)}` : ''}`;
  if (entry.outcome === 'suppressed') return `not sent${entry.reason ? ` — ${words(entry.reason)}${REASONS[entry.reason] ? `: ${REASONS[entry.reason]}` : ''}` : ''}`;
  return entry.outcome; // waited, event, timeout, yes, no, exited, waiting, or a split path's name
}
