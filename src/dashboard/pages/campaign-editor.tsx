import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { EmailPreview } from '../campaigns/email-preview.tsx';
import { blankForm, type CampaignForm, fromCampaign, toInput } from '../campaigns/form-state.ts';
import { PushPreview } from '../campaigns/push-preview.tsx';
import { MobilePushEditor } from '../campaigns/mobile-push-editor.tsx';
import { SmsEditor } from '../campaigns/sms-editor.tsx';
import { VariantsEditor } from '../campaigns/variants-editor.tsx';
import { WebhookEditor } from '../campaigns/webhook-editor.tsx';
import { graphql } from '../generated/index.ts';
import { Link, navigate } from '../router.tsx';
import { ComparisonFields } from '../rules/builder.tsx';
import { EVERYONE } from '../rules/model.ts';
import { AudiencePreview } from '../rules/preview.tsx';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { fromLocalInput } from '../ui/format.ts';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';

const CampaignEdit = graphql(`
  query CampaignEdit($id: ID!, $isNew: Boolean!) {
    segments(first: 100) { edges { node { id name audience rule } } }
    campaign(id: $id) @skip(if: $isNew) {
      id name kind channel status activeUntil frequencyCapped
      audience { type segment { id } }
      content { title body url iconUrl imageUrl badgeUrl requireInteraction ttlSeconds urgency topic actions { action title url } }
      email { subject preheader html mjml text fromName replyTo }
      sms { body }
      webhook { url method headers body }
      mobilePush { title body imageUrl url data badge sound category topic ttlSeconds }
      trigger { event where delaySeconds exceptionEvents reEligibleAfterSeconds }
      deliveryWindow { start end }
      conversion { event withinSeconds }
      variants { name weight content }
      holdoutPercent
    }
  }
`);

const SaveCampaign = graphql(`
  mutation SaveCampaign($create: CampaignInput!, $update: UpdateCampaignInput!, $isNew: Boolean!) {
    createCampaign(input: $create) @include(if: $isNew) {
      __typename
      ... on MutationCreateCampaignSuccess { data { id status } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
    updateCampaign(input: $update) @skip(if: $isNew) {
      __typename
      ... on MutationUpdateCampaignSuccess { data { id status } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const Start = graphql(`
  mutation StartCampaign($id: ID!, $now: Boolean!, $activate: Boolean!, $schedule: Boolean!, $sendAt: DateTime!, $localTime: Boolean!) {
    sendCampaignNow(input: { id: $id }) @include(if: $now) {
      __typename
      ... on MutationSendCampaignNowSuccess { data { id } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
    activateCampaign(input: { id: $id }) @include(if: $activate) {
      __typename
      ... on MutationActivateCampaignSuccess { data { id } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
    scheduleCampaign(input: { id: $id, sendAt: $sendAt, localTime: $localTime }) @include(if: $schedule) {
      __typename
      ... on MutationScheduleCampaignSuccess { data { id } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

type When = 'draft' | 'now' | 'schedule' | 'activate';

/** Writes a campaign (any channel Herald sends today), previews it live, and starts it. */
export function CampaignEditor({ id }: { id?: string }) {
  const [{ data }] = useQuery({ query: CampaignEdit, variables: { id: id ?? '', isNew: !id } });
  const [form, setForm] = useState<CampaignForm>(blankForm);
  const [when, setWhen] = useState<When>('draft');
  const [sendAt, setSendAt] = useState('');
  const [localTime, setLocalTime] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [saving, save] = useMutation(SaveCampaign);
  const [starting, start] = useMutation(Start);

  useEffect(() => {
    if (data?.campaign) setForm(fromCampaign(data.campaign));
  }, [data?.campaign]);

  const set = (patch: Partial<CampaignForm>) => setForm({ ...form, ...patch });
  const setPush = (patch: Partial<CampaignForm['push']>) => set({ push: { ...form.push, ...patch } });
  const setEmail = (patch: Partial<CampaignForm['email']>) => set({ email: { ...form.email, ...patch } });
  const setTrigger = (patch: Partial<CampaignForm['trigger']>) => set({ trigger: { ...form.trigger, ...patch } });
  const error = (path: string) => fieldError(problem, path);

  const segments = data?.segments.edges.map((edge) => edge.node) ?? [];
  const segment = segments.find((one) => one.id === form.segmentId);
  const audienceRule = segment ? segment.rule : EVERYONE;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(undefined);
    const input = toInput(form);
    const saved = outcome(await save({ isNew: !id, create: input as never, update: { ...input, id: id ?? '' } as never }), id ? 'updateCampaign' : 'createCampaign');
    if (saved.problem) return setProblem(saved.problem);
    const campaignId = (saved.data as { id: string }).id;
    if (when !== 'draft') {
      if (when === 'schedule' && !sendAt) return setProblem({ message: 'Saved as a draft. Pick when to send it.', fields: new Map([['sendAt', 'pick a date and time']]) });
      const field = { now: 'sendCampaignNow', activate: 'activateCampaign', schedule: 'scheduleCampaign' }[when];
      const started = outcome(
        await start({ id: campaignId, now: when === 'now', activate: when === 'activate', schedule: when === 'schedule', sendAt: fromLocalInput(sendAt) ?? new Date().toISOString(), localTime }),
        field,
      );
      if (started.problem) {
        // The campaign is saved; stay here with what stopped it, on the page of the saved draft.
        if (!id) navigate(`/campaigns/${campaignId}/edit`, { replace: true });
        return setProblem({ ...started.problem, message: `Saved, but not started: ${started.problem.message}` });
      }
    }
    navigate(`/campaigns/${campaignId}`);
  };

  if (id && data && !data.campaign) return <p>Campaign not found.</p>;
  const push = form.push;
  return (
    <>
      <p className="crumbs">
        <Link to="/campaigns">Campaigns</Link> /
      </p>
      <h1 tabIndex={-1}>{id ? `Edit ${form.name}` : 'New campaign'}</h1>
      <form onSubmit={submit} className="editor" noValidate>
        <section aria-labelledby="basics">
          <h2 id="basics">Basics</h2>
          <Field label="Name" error={error('name')}>
            <input required value={form.name} onChange={(event) => set({ name: event.target.value })} />
          </Field>
          <div className="row">
            <Field label="Kind" error={error('kind')}>
              <select value={form.kind} onChange={(event) => (set({ kind: event.target.value as CampaignForm['kind'] }), setWhen('draft'))}>
                <option value="BROADCAST">Broadcast: once, to an audience</option>
                <option value="TRIGGERED">Triggered: when a contact does something</option>
              </select>
            </Field>
            <Field label="Channel" error={error('channel')}>
              <select value={form.channel} onChange={(event) => set({ channel: event.target.value as CampaignForm['channel'] })}>
                <option value="WEB_PUSH">Web push</option>
                <option value="EMAIL">Email</option>
                <option value="SMS">SMS</option>
                <option value="MOBILE_PUSH">Push to phone apps</option>
                <option value="WEBHOOK">Webhook</option>
              </select>
            </Field>
          </div>
        </section>

        {form.channel === 'WEB_PUSH' ? (
          <section aria-labelledby="message" className="columns">
            <div>
              <h2 id="message">Notification</h2>
              <p className="hint">
                Title, body and links are Liquid templates, e.g. <code>{"Hi {{ contact.firstName | default: 'there' }}"}</code>.
              </p>
              <Field label="Title" error={error('content.title')}>
                <input required value={push.title} onChange={(event) => setPush({ title: event.target.value })} />
              </Field>
              <Field label="Body" error={error('content.body')}>
                <textarea rows={3} value={push.body} onChange={(event) => setPush({ body: event.target.value })} />
              </Field>
              <Field label="Opens (URL)" error={error('content.url')}>
                <input type="url" required value={push.url} onChange={(event) => setPush({ url: event.target.value })} placeholder="https://shop.example/sale" />
              </Field>
              <Field label="Large image URL (a rich push)" error={error('content.imageUrl')}>
                <input type="url" value={push.imageUrl} onChange={(event) => setPush({ imageUrl: event.target.value })} />
              </Field>
              <div className="row">
                <Field label="Icon URL" error={error('content.iconUrl')}>
                  <input type="url" value={push.iconUrl} onChange={(event) => setPush({ iconUrl: event.target.value })} />
                </Field>
                <Field label="Badge URL" error={error('content.badgeUrl')}>
                  <input type="url" value={push.badgeUrl} onChange={(event) => setPush({ badgeUrl: event.target.value })} />
                </Field>
              </div>
              <fieldset>
                <legend>Buttons (at most 2)</legend>
                {push.actions.map((action, index) => {
                  const change = (patch: Partial<typeof action>) => setPush({ actions: push.actions.map((one, at) => (at === index ? { ...one, ...patch } : one)) });
                  return (
                    <div className="row" key={index}>
                      <Field label={`Button ${index + 1} label`} error={error(`content.actions.${index}.title`)}>
                        <input value={action.title} onChange={(event) => change({ title: event.target.value })} />
                      </Field>
                      <Field label="Id" error={error(`content.actions.${index}.action`)}>
                        <input value={action.action} onChange={(event) => change({ action: event.target.value })} size={8} />
                      </Field>
                      <Field label="Opens (URL, optional)" error={error(`content.actions.${index}.url`)}>
                        <input type="url" value={action.url} onChange={(event) => change({ url: event.target.value })} />
                      </Field>
                      <button type="button" className="quiet small" onClick={() => setPush({ actions: push.actions.filter((_, at) => at !== index) })}>
                        Remove button {index + 1}
                      </button>
                    </div>
                  );
                })}
                {push.actions.length < 2 && (
                  <button type="button" className="quiet small" onClick={() => setPush({ actions: [...push.actions, { action: `action${push.actions.length + 1}`, title: '', url: '' }] })}>
                    Add a button
                  </button>
                )}
              </fieldset>
              <details>
                <summary>Delivery options</summary>
                <div className="row">
                  <Field label="Urgency" error={error('content.urgency')}>
                    <select value={push.urgency} onChange={(event) => setPush({ urgency: event.target.value })}>
                      <option value="">Default (normal)</option>
                      <option value="VERY_LOW">Very low</option>
                      <option value="LOW">Low</option>
                      <option value="NORMAL">Normal</option>
                      <option value="HIGH">High</option>
                    </select>
                  </Field>
                  <Field label="Kept for offline browsers (hours)" error={error('content.ttlSeconds')}>
                    <input type="number" min={0} value={push.ttlHours} onChange={(event) => setPush({ ttlHours: event.target.value })} placeholder="28 days" />
                  </Field>
                  <Field label="Topic (replaces an undelivered one)" error={error('content.topic')}>
                    <input value={push.topic} onChange={(event) => setPush({ topic: event.target.value })} />
                  </Field>
                </div>
                <Check label="Stays on screen until the person acts" checked={push.requireInteraction} onChange={(requireInteraction) => setPush({ requireInteraction })} />
              </details>
            </div>
            <aside aria-label="Preview">
              <h2>Preview</h2>
              <PushPreview content={push} />
            </aside>
          </section>
        ) : form.channel === 'SMS' ? (
          <SmsEditor body={form.sms.body} onChange={(body) => set({ sms: { body } })} error={error('sms.body') ?? error('sms')} />
        ) : form.channel === 'WEBHOOK' ? (
          <WebhookEditor webhook={form.webhook} onChange={(webhook) => set({ webhook })} error={error} />
        ) : form.channel === 'MOBILE_PUSH' ? (
          <MobilePushEditor push={form.mobilePush} onChange={(mobilePush) => set({ mobilePush })} error={error} />
        ) : (
          <section aria-labelledby="message" className="columns">
            <div>
              <h2 id="message">Email</h2>
              <Field label="Subject" error={error('email.subject')}>
                <input required value={form.email.subject} onChange={(event) => setEmail({ subject: event.target.value })} />
              </Field>
              <Field label="Preheader" error={error('email.preheader')}>
                <input value={form.email.preheader} onChange={(event) => setEmail({ preheader: event.target.value })} />
              </Field>
              <Field label="Written in" error={undefined}>
                <select value={form.email.format} onChange={(event) => setEmail({ format: event.target.value as 'html' | 'mjml' })}>
                  <option value="html">HTML</option>
                  <option value="mjml">MJML</option>
                </select>
              </Field>
              <Field label={form.email.format === 'html' ? 'HTML' : 'MJML'} error={error(`email.${form.email.format}`)} hint="{{ unsubscribe_url }} links to the one-click unsubscribe.">
                <textarea rows={12} className="code" value={form.email.body} onChange={(event) => setEmail({ body: event.target.value })} spellCheck={false} />
              </Field>
              <Field label="Plain text (derived from the HTML when empty)" error={error('email.text')}>
                <textarea rows={4} value={form.email.text} onChange={(event) => setEmail({ text: event.target.value })} />
              </Field>
              <div className="row">
                <Field label="From name" error={error('email.fromName')}>
                  <input value={form.email.fromName} onChange={(event) => setEmail({ fromName: event.target.value })} />
                </Field>
                <Field label="Reply to" error={error('email.replyTo')}>
                  <input type="email" value={form.email.replyTo} onChange={(event) => setEmail({ replyTo: event.target.value })} />
                </Field>
              </div>
            </div>
            <aside aria-label="Preview">
              <h2>Preview</h2>
              <EmailPreview subject={form.email.subject} preheader={form.email.preheader} html={form.email.body} mjml={form.email.format === 'mjml'} />
            </aside>
          </section>
        )}

        <section aria-labelledby="audience" className="columns">
          <div>
            <h2 id="audience">Audience</h2>
            <Field label="Segment" error={error('audience.segmentId')}>
              <select value={form.segmentId} onChange={(event) => set({ segmentId: event.target.value })}>
                <option value="">Everyone</option>
                {segments.map((one) => (
                  <option key={one.id} value={one.id}>
                    {one.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Who" error={error('audience.type')}>
              <select value={form.audienceType} onChange={(event) => set({ audienceType: event.target.value as CampaignForm['audienceType'] })}>
                <option value="ALL">Identified and anonymous</option>
                <option value="IDENTIFIED">Identified customers only</option>
                <option value="ANONYMOUS">Anonymous visitors only</option>
              </select>
            </Field>
          </div>
          <aside aria-label="Audience size">
            <AudiencePreview rule={audienceRule} audience={form.audienceType} sample={3} channel={form.channel} />
          </aside>
        </section>

        {form.kind === 'TRIGGERED' && (
          <section aria-labelledby="trigger">
            <h2 id="trigger">Trigger</h2>
            <div className="row">
              <Field label="When a contact does (event)" error={error('trigger.event')}>
                <input value={form.trigger.event} onChange={(event) => setTrigger({ event: event.target.value })} placeholder="added_to_cart" />
              </Field>
              <Field label="Wait (minutes)" error={error('trigger.delaySeconds')}>
                <input type="number" min={0} value={form.trigger.delayMinutes} onChange={(event) => setTrigger({ delayMinutes: event.target.value })} />
              </Field>
              <Field label="Unless they do (events, comma separated)" error={error('trigger.exceptionEvents')}>
                <input value={form.trigger.exceptionEvents} onChange={(event) => setTrigger({ exceptionEvents: event.target.value })} placeholder="purchase" />
              </Field>
              <Field label="Again after (hours; empty: once ever)" error={error('trigger.reEligibleAfterSeconds')}>
                <input type="number" min={0} value={form.trigger.reEligibleAfterHours} onChange={(event) => setTrigger({ reEligibleAfterHours: event.target.value })} />
              </Field>
            </div>
            <fieldset>
              <legend>Only events whose properties match</legend>
              {form.trigger.where.map((comparison, index) => (
                <div className="row" key={index}>
                  <ComparisonFields
                    comparison={comparison}
                    pathLabel="Property"
                    onChange={(next) => setTrigger({ where: form.trigger.where.map((one, at) => (at === index ? next : one)) })}
                  />
                  <button type="button" className="quiet small" onClick={() => setTrigger({ where: form.trigger.where.filter((_, at) => at !== index) })}>
                    Remove filter
                  </button>
                  {error(`trigger.where.${index}`) && <small className="error">{error(`trigger.where.${index}`)}</small>}
                </div>
              ))}
              <button type="button" className="quiet small" onClick={() => setTrigger({ where: [...form.trigger.where, { path: '', op: 'GT', value: '' }] })}>
                Add property filter
              </button>
            </fieldset>
          </section>
        )}

        <VariantsEditor form={form} onChange={set} error={error} />

        <section aria-labelledby="delivery">
          <h2 id="delivery">Delivery</h2>
          <div className="row">
            <Field label="Delivery window from (recipient’s time)" error={error('deliveryWindow.start')}>
              <input type="time" value={form.windowStart} onChange={(event) => set({ windowStart: event.target.value })} />
            </Field>
            <Field label="to" error={error('deliveryWindow.end')}>
              <input type="time" value={form.windowEnd} onChange={(event) => set({ windowEnd: event.target.value })} />
            </Field>
            <Field label="Not shown after (your time)" error={error('activeUntil')}>
              <input type="datetime-local" value={form.activeUntil} onChange={(event) => set({ activeUntil: event.target.value })} />
            </Field>
          </div>
          <div className="row">
            <Field label="Conversion: the event that counts" error={error('conversion.event')}>
              <input value={form.conversionEvent} onChange={(event) => set({ conversionEvent: event.target.value })} placeholder="purchase" />
            </Field>
            <Field label="within (hours)" error={error('conversion.withinSeconds')}>
              <input type="number" min={1} value={form.conversionHours} onChange={(event) => set({ conversionHours: event.target.value })} />
            </Field>
          </div>
          <Check label="Counts against the workspace’s frequency caps" checked={form.frequencyCapped} onChange={(frequencyCapped) => set({ frequencyCapped })} />
        </section>

        <section aria-labelledby="when">
          <h2 id="when">When</h2>
          <div role="radiogroup" aria-labelledby="when" className="toolbar">
            {(form.kind === 'BROADCAST' ? (['draft', 'now', 'schedule'] as const) : (['draft', 'activate'] as const)).map((one) => (
              <label key={one} className="check">
                <input type="radio" name="when" checked={when === one} onChange={() => setWhen(one)} />{' '}
                {{ draft: 'Save as draft', now: 'Send now', schedule: 'Schedule', activate: 'Activate: start listening' }[one]}
              </label>
            ))}
          </div>
          {when === 'schedule' && (
            <div className="row">
              <Field label="Send at (your time)" error={error('sendAt')}>
                <input type="datetime-local" value={sendAt} onChange={(event) => setSendAt(event.target.value)} />
              </Field>
              <Check label="At this wall-clock time in each recipient’s zone" checked={localTime} onChange={setLocalTime} />
            </div>
          )}
        </section>
        <ProblemBox
          problem={problem}
          shown={['name', 'kind', 'channel', 'content', 'email', 'sms', 'webhook', 'mobilePush', 'audience', 'trigger', 'deliveryWindow', 'activeUntil', 'conversion', 'sendAt', 'variants', 'holdoutPercent']}
        />
        <button type="submit" disabled={saving.fetching || starting.fetching}>
          {{ draft: 'Save draft', now: 'Save and send now', schedule: 'Save and schedule', activate: 'Save and activate' }[when]}
        </button>
      </form>
    </>
  );
}
