import { useState } from 'react';
import type { Channel } from '../generated/graphql.ts';
import { CHANNELS } from '../ui/channels.ts';
import { Field } from '../ui/form.tsx';

/**
 * The structured journey editor: the steps as a list, each a small form by its kind, with pickers
 * among the step keys for where it leads. It edits the same JourneyInput object the JSON tab shows
 * and keeps every field it has no control for, so the two round-trip.
 */
type Json = Record<string, unknown>;
type Step = Json & { key: string };

const KINDS = ['send', 'wait', 'waitForEvent', 'branch', 'engagement', 'split'] as const;
type Kind = (typeof KINDS)[number];
const KIND_NAMES: Record<Kind, string> = { send: 'Send', wait: 'Wait', waitForEvent: 'Wait for an event', branch: 'Branch', engagement: 'Engaged?', split: 'Split' };
/** Each channel's content field in a send step; a Record over the schema's enum, so no channel is left out. */
const CONTENT_FIELD: Record<Channel, string> = { WEB_PUSH: 'content', EMAIL: 'email', SMS: 'sms', WEBHOOK: 'webhook', MOBILE_PUSH: 'mobilePush', IN_APP: 'inApp' };
const BLANK: Record<Kind, Json> = {
  send: { channel: 'WEB_PUSH', content: { title: '', url: 'https://' } },
  wait: { seconds: 3600 },
  waitForEvent: { name: '', withinSeconds: 86400 },
  branch: { rule: { identified: true } },
  engagement: { step: '', did: 'CLICKED', withinSeconds: 86400 },
  split: { paths: [{ name: 'a', percent: 50 }, { name: 'b', percent: 50 }] },
};

const contentField = (send: Json) => CONTENT_FIELD[send.channel as Channel] ?? 'content';

/** A send step moved to another channel: the other channels' content goes (a step sends one), its own stays. */
function withChannel(send: Json, channel: Channel): Json {
  const field = CONTENT_FIELD[channel];
  const kept = Object.fromEntries(Object.entries(send).filter(([name]) => name === field || !Object.values(CONTENT_FIELD).includes(name)));
  return { ...kept, channel, [field]: send[field] ?? {} };
}

export const kindOfStep = (step: Json): Kind | undefined => KINDS.find((kind) => step[kind] && typeof step[kind] === 'object');

export function StepsEditor({ value, onChange }: { value: Json; onChange: (value: Json) => void }) {
  const steps = (Array.isArray(value.steps) ? value.steps : []) as Step[];
  const [newKind, setNewKind] = useState<Kind>('send');
  const setSteps = (next: Step[]) => onChange({ ...value, steps: next });
  const setStep = (index: number, next: Step) => setSteps(steps.map((one, at) => (at === index ? next : one)));
  const keys = steps.map((step) => step.key);
  const add = () => {
    let key = `${newKind.toLowerCase()}${steps.length + 1}`;
    while (keys.includes(key)) key += '_';
    setSteps([...steps, { key, [newKind]: structuredClone(BLANK[newKind]) }]);
  };
  return (
    <div className="steps-editor">
      <Field label="Name">
        <input value={String(value.name ?? '')} onChange={(event) => onChange({ ...value, name: event.target.value })} />
      </Field>
      <JsonField label="Entry (JSON: an event, a segment or the API)" value={value.entry} onChange={(entry) => onChange({ ...value, entry })} />
      <ol className="flow" aria-label="Steps">
        {steps.map((step, index) => (
          <li key={index} className="flow-step" data-step-form={step.key}>
            <StepForm step={step} index={index} keys={keys} onChange={(next) => setStep(index, next)} />
            <button type="button" className="quiet small" onClick={() => setSteps(steps.filter((_, at) => at !== index))}>
              Remove step {step.key}
            </button>
          </li>
        ))}
      </ol>
      <div className="toolbar">
        <label>
          New step{' '}
          <select value={newKind} onChange={(event) => setNewKind(event.target.value as Kind)}>
            {KINDS.map((kind) => (
              <option key={kind} value={kind}>
                {KIND_NAMES[kind]}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="quiet small" onClick={add}>
          Add a step
        </button>
      </div>
    </div>
  );
}

function StepForm({ step, index, keys, onChange }: { step: Step; index: number; keys: string[]; onChange: (step: Step) => void }) {
  const kind = kindOfStep(step);
  const body = (kind ? step[kind] : {}) as Json;
  const set = (patch: Json) => kind && onChange({ ...step, [kind]: { ...body, ...patch } });
  const others = keys.filter((key) => key !== step.key);
  const pick = (label: string, field: string) => <NextPicker label={`${step.key}: ${label}`} value={body[field]} keys={others} onChange={(next) => set({ [field]: next })} />;
  const number = (label: string, field: string) => (
    <Field label={`${step.key}: ${label}`}>
      <input type="number" min={0} value={String(body[field] ?? '')} onChange={(event) => set({ [field]: event.target.value === '' ? null : Number(event.target.value) })} />
    </Field>
  );
  const text = (label: string, field: string) => (
    <Field label={`${step.key}: ${label}`}>
      <input value={String(body[field] ?? '')} onChange={(event) => set({ [field]: event.target.value || null })} />
    </Field>
  );
  return (
    <fieldset>
      <legend>
        Step {index + 1}: {kind ? KIND_NAMES[kind] : 'unknown kind'}
      </legend>
      <Field label={`Step ${index + 1} key`}>
        <input value={step.key} onChange={(event) => onChange({ ...step, key: event.target.value })} />
      </Field>
      {kind === 'send' && (
        <>
          <Field label={`${step.key}: channel`}>
            <select value={String(body.channel)} onChange={(event) => kind && onChange({ ...step, [kind]: withChannel(body, event.target.value as Channel) })}>
              {Object.entries(CHANNELS).map(([channel, words]) => (
                <option key={channel} value={channel}>
                  {words}
                </option>
              ))}
            </select>
          </Field>
          <JsonField
            key={String(body.channel)}
            label={`${step.key}: message (${contentField(body)}, JSON)`} value={body[contentField(body)]} onChange={(content) => set({ [contentField(body)]: content })} />
          {pick('then', 'next')}
        </>
      )}
      {kind === 'wait' && (
        <div className="row">
          {number('wait (seconds)', 'seconds')}
          {text('or until local time (HH:MM)', 'untilLocalTime')}
          {pick('then', 'next')}
        </div>
      )}
      {kind === 'waitForEvent' && (
        <div className="row">
          {text('event', 'name')}
          {number('within (seconds)', 'withinSeconds')}
          {pick('if it comes', 'onEvent')}
          {pick('if not', 'onTimeout')}
        </div>
      )}
      {kind === 'branch' && (
        <>
          <JsonField label={`${step.key}: rule (JSON, as a segment's)`} value={body.rule} onChange={(rule) => set({ rule })} />
          <div className="row">
            {pick('yes', 'yes')}
            {pick('no', 'no')}
          </div>
        </>
      )}
      {kind === 'engagement' && (
        <div className="row">
          <Field label={`${step.key}: after step`}>
            <select value={String(body.step ?? '')} onChange={(event) => set({ step: event.target.value })}>
              <option value="">(pick a send step)</option>
              {others.map((key) => (
                <option key={key} value={key}>
                  {key}
                </option>
              ))}
            </select>
          </Field>
          <Field label={`${step.key}: the contact`}>
            <select value={String(body.did)} onChange={(event) => set({ did: event.target.value })}>
              {['DELIVERED', 'DISPLAYED', 'OPENED', 'CLICKED', 'CONVERTED'].map((did) => (
                <option key={did} value={did}>
                  {did.toLowerCase()}
                </option>
              ))}
            </select>
          </Field>
          {number('within (seconds)', 'withinSeconds')}
          {pick('yes', 'yes')}
          {pick('no', 'no')}
        </div>
      )}
      {kind === 'split' && <SplitPaths step={step} paths={(body.paths ?? []) as Json[]} keys={others} onChange={(paths) => set({ paths })} />}
    </fieldset>
  );
}

function SplitPaths({ step, paths, keys, onChange }: { step: Step; paths: Json[]; keys: string[]; onChange: (paths: Json[]) => void }) {
  const setPath = (index: number, patch: Json) => onChange(paths.map((one, at) => (at === index ? { ...one, ...patch } : one)));
  return (
    <>
      {paths.map((path, index) => (
        <div className="row" key={index}>
          <Field label={`${step.key}: path ${index + 1} name`}>
            <input value={String(path.name ?? '')} onChange={(event) => setPath(index, { name: event.target.value })} />
          </Field>
          <Field label={`${step.key}: path ${index + 1} percent`}>
            <input type="number" min={0} max={100} value={String(path.percent ?? '')} onChange={(event) => setPath(index, { percent: Number(event.target.value) })} />
          </Field>
          <NextPicker label={`${step.key}: path ${index + 1} then`} value={path.next} keys={keys} onChange={(next) => setPath(index, { next })} />
        </div>
      ))}
      <button type="button" className="quiet small" onClick={() => onChange([...paths, { name: `p${paths.length + 1}`, percent: 0 }])}>
        Add a path
      </button>
    </>
  );
}

/** Where a step leads: another step's key, or nowhere (the journey completes). */
function NextPicker({ label, value, keys, onChange }: { label: string; value: unknown; keys: string[]; onChange: (next: string | null) => void }) {
  const current = typeof value === 'string' ? value : '';
  return (
    <Field label={label}>
      <select value={current} onChange={(event) => onChange(event.target.value || null)}>
        <option value="">(completes the journey)</option>
        {[...new Set([...keys, ...(current ? [current] : [])])].map((key) => (
          <option key={key} value={key}>
            {key}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** A nested object edited as JSON text: applied while it parses, the text kept as typed. */
function JsonField({ label, value, onChange }: { label: string; value: unknown; onChange: (value: unknown) => void }) {
  const [text, setText] = useState(() => JSON.stringify(value ?? null, null, 2));
  const [problem, setProblem] = useState<string>();
  return (
    <Field label={label} error={problem}>
      <textarea
        rows={3}
        className="code"
        spellCheck={false}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          try {
            onChange(JSON.parse(event.target.value));
            setProblem(undefined);
          } catch (error) {
            setProblem(`not JSON yet: ${(error as Error).message}`);
          }
        }}
      />
    </Field>
  );
}
