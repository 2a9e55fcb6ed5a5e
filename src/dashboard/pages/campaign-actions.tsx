import { type FormEvent, useState } from 'react';
import { useClient, useMutation } from 'urql';
import { graphql } from '../generated/index.ts';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { fromLocalInput } from '../ui/format.ts';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';
import { REASONS } from '../ui/reasons.ts';

const Schedule = graphql(`
  mutation ScheduleCampaign($input: MutationScheduleCampaignInput!) {
    scheduleCampaign(input: $input) {
      __typename
      ... on MutationScheduleCampaignSuccess { data { id status schedule { sendAt localTime } } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const FindContact = graphql(`
  query FindContact($email: String, $externalId: String) {
    contact(email: $email, externalId: $externalId) { id email externalId }
  }
`);

const SendTest = graphql(`
  mutation SendTestMessage($input: MutationSendTestMessageInput!) {
    sendTestMessage(input: $input) {
      __typename
      ... on MutationSendTestMessageSuccess { data { id status reason error } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

/** Schedules a broadcast at a time picked in the browser's zone, or at that wall-clock time in each recipient's. */
export function ScheduleForm({ id, onDone }: { id: string; onDone: () => void }) {
  const [sendAt, setSendAt] = useState('');
  const [localTime, setLocalTime] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [state, schedule] = useMutation(Schedule);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = outcome(await schedule({ input: { id, sendAt: fromLocalInput(sendAt)!, localTime } }), 'scheduleCampaign');
    setProblem(result.problem);
    if (!result.problem) onDone();
  };
  return (
    <section aria-labelledby="schedule">
      <h2 id="schedule">Schedule</h2>
      <form onSubmit={submit} className="inline">
        <Field label="Send at (your time)" error={fieldError(problem, 'sendAt')}>
          <input type="datetime-local" required value={sendAt} onChange={(event) => setSendAt(event.target.value)} />
        </Field>
        <Check label="At this wall-clock time in each recipient’s zone" checked={localTime} onChange={setLocalTime} />
        <button type="submit" disabled={state.fetching}>
          Schedule
        </button>
      </form>
      <ProblemBox problem={problem} shown={['sendAt']} />
    </section>
  );
}

/** "Send a test to contact…": by email or external id, to their newest browser or their inbox. */
export function TestSend({ campaignId }: { campaignId: string }) {
  const client = useClient();
  const [who, setWho] = useState('');
  const [problem, setProblem] = useState<Problem>();
  const [sent, setSent] = useState<string>();
  const [state, send] = useMutation(SendTest);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(undefined);
    setSent(undefined);
    const name = who.trim();
    const found = await client.query(FindContact, name.includes('@') ? { email: name } : { externalId: name }, { requestPolicy: 'network-only' }).toPromise();
    const contact = found.data?.contact;
    if (!contact) return setProblem({ message: `No contact with ${name.includes('@') ? 'email' : 'external id'} “${name}”.`, fields: new Map() });
    const result = outcome(await send({ input: { campaignId, contactId: contact.id } }), 'sendTestMessage');
    if (result.problem) return setProblem(result.problem);
    const message = result.data as { status: string; reason?: string | null; error?: string | null };
    setSent(`Test ${message.status.toLowerCase()}${message.reason ? `: ${REASONS[message.reason] ?? message.reason}` : ''}${message.error ? ` (${message.error})` : ''}`);
  };
  return (
    <section aria-labelledby="test">
      <h2 id="test">Send a test</h2>
      <form onSubmit={submit} className="inline">
        <Field label="Contact’s email or external id" error={problem?.message}>
          <input required value={who} onChange={(event) => setWho(event.target.value)} />
        </Field>
        <button type="submit" className="quiet" disabled={state.fetching}>
          Send test
        </button>
      </form>
      <p role="status">{sent}</p>
    </section>
  );
}
