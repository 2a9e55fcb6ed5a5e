import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { EmailEditor } from '../campaigns/email-editor.tsx';
import { blankForm, type CampaignForm, fromCampaign, toInput } from '../campaigns/form-state.ts';
import { InAppEditor } from '../campaigns/in-app-editor.tsx';
import { MobilePushEditor } from '../campaigns/mobile-push-editor.tsx';
import { PushEditor } from '../campaigns/push-editor.tsx';
import type { QuestionForm } from '../campaigns/question.ts';
import { SmsEditor } from '../campaigns/sms-editor.tsx';
import { VariantsEditor } from '../campaigns/variants-editor.tsx';
import { WebhookEditor } from '../campaigns/webhook-editor.tsx';
import { TestSend } from './campaign-actions.tsx';
import { graphql } from '../generated/index.ts';
import { Link, navigate } from '../router.tsx';
import { ComparisonFields } from '../rules/builder.tsx';
import { EVERYONE } from '../rules/model.ts';
import { AudiencePreview } from '../rules/preview.tsx';
import { CHANNELS } from '../ui/channels.ts';
import { Check, Field, ProblemBox } from '../ui/form.tsx';
import { fromLocalInput } from '../ui/format.ts';
import { fieldError, outcome, type Problem } from '../ui/outcome.ts';

const CampaignEdit = graphql(`
  query CampaignEdit($id: ID!, $isNew: Boolean!) {
    segments(first: 100) { edges { node { id name audience rule } } }
    campaign(id: $id) @skip(if: $isNew) {
      id name kind channel status activeUntil frequencyCapped
      audience { type segment { id } }
      content { title body url iconUrl imageUrl badgeUrl requireInteraction ttlSeconds urgency topic actions { action title url } question { ...EditedQuestion } }
      email { subject preheader html mjml text fromName replyTo question { ...EditedQuestion } }
      inApp { layout title body imageUrl buttons { label url } ttlSeconds question { ...EditedQuestion } }
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

graphql(`
  fragment EditedQuestion on Question { kind text choices freeText }
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
  const setQuestion = (question: QuestionForm) => set({ question });
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
                {Object.entries(CHANNELS).map(([channel, words]) => (
                  <option key={channel} value={channel}>
                    {words}
                  </option>
                ))}
              </select>
            </Field>
          </div>
        </section>

        {form.channel === 'WEB_PUSH' ? (
          <PushEditor push={form.push} question={form.question} onChange={setPush} onQuestion={setQuestion} error={error} />
        ) : form.channel === 'SMS' ? (
          <SmsEditor body={form.sms.body} onChange={(body) => set({ sms: { body } })} error={error('sms.body') ?? error('sms')} />
        ) : form.channel === 'WEBHOOK' ? (
          <WebhookEditor webhook={form.webhook} onChange={(webhook) => set({ webhook })} error={error} />
        ) : form.channel === 'MOBILE_PUSH' ? (
          <MobilePushEditor push={form.mobilePush} onChange={(mobilePush) => set({ mobilePush })} error={error} />
        ) : form.channel === 'IN_APP' ? (
          <InAppEditor inApp={form.inApp} question={form.question} onChange={(inApp) => set({ inApp })} onQuestion={setQuestion} error={error} />
        ) : (
          <EmailEditor email={form.email} question={form.question} onChange={setEmail} onQuestion={setQuestion} error={error} />
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
          shown={['name', 'kind', 'channel', 'content', 'email', 'sms', 'webhook', 'mobilePush', 'inApp', 'audience', 'trigger', 'deliveryWindow', 'activeUntil', 'conversion', 'sendAt', 'variants', 'holdoutPercent']}
        />
        <button type="submit" disabled={saving.fetching || starting.fetching}>
          {{ draft: 'Save draft', now: 'Save and send now', schedule: 'Save and schedule', activate: 'Save and activate' }[when]}
        </button>
      </form>
      {/* A saved campaign can be tried on one contact from here (the version last saved). */}
      {id && <TestSend campaignId={id} />}
    </>
  );
}
