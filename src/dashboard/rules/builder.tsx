import { useId } from 'react';
import { AGGREGATES, type Comparison, type Condition, type Group, KINDS, newCondition, type Node, OPS } from './model.ts';
import { words } from '../ui/format.ts';

/** Field errors by the rule's path ("and.0.attribute.path"), from the last preview or save. */
type Errors = Map<string, string>;

/**
 * The rule builder: nested all/any groups, each row one condition of any kind, "not" on any of
 * them. Edits produce a new tree (the parent holds it); errors show at the condition they name.
 */
export function RuleBuilder({ root, onChange, errors }: { root: Group; onChange: (root: Group) => void; errors: Errors }) {
  return <GroupEditor group={root} onChange={(next) => onChange(next as Group)} path="" errors={errors} depth={0} />;
}

/** The API path of a group's child: a group of one is sent as that child itself (see toRule). */
function childPath(group: Group, path: string, index: number): string {
  const base = group.negate ? join(path, 'not') : path;
  return group.children.length === 1 ? base : join(base, `${group.match}.${index}`);
}
const join = (a: string, b: string) => (a ? `${a}.${b}` : b);

function errorsUnder(errors: Errors, path: string): string[] {
  return [...errors].filter(([key]) => key === path || key.startsWith(`${path}.`) || !path).map(([key, message]) => `${key.slice(path.length).replace(/^\./, '') || 'rule'}: ${message}`);
}

function GroupEditor({ group, onChange, path, errors, depth }: { group: Group; onChange: (node: Node) => void; path: string; errors: Errors; depth: number }) {
  const id = useId();
  const update = (index: number, node: Node | null) => {
    const children = [...group.children];
    if (node) children[index] = node;
    else children.splice(index, 1);
    onChange({ ...group, children });
  };
  const add = (kind: string) => {
    const node: Node = kind === 'group' ? { kind: 'group', match: 'or', negate: false, children: [] } : newCondition(kind as Condition['kind']);
    onChange({ ...group, children: [...group.children, node] });
  };
  return (
    <fieldset className={`rule-group depth-${depth % 3}`}>
      <legend>
        <label htmlFor={`${id}-match`}>Contacts matching</label>{' '}
        <select id={`${id}-match`} value={group.match} onChange={(event) => onChange({ ...group, match: event.target.value as Group['match'] })}>
          <option value="and">all of</option>
          <option value="or">any of</option>
        </select>
        {depth > 0 && (
          <label className="check">
            <input type="checkbox" checked={group.negate} onChange={(event) => onChange({ ...group, negate: event.target.checked })} /> none of these (not)
          </label>
        )}
      </legend>
      {group.children.length === 0 && <p className="hint">No conditions: everyone.</p>}
      <ul>
        {group.children.map((child, index) => {
          const here = childPath(group, path, index);
          return (
            <li key={index}>
              {child.kind === 'group' ? (
                <GroupEditor group={child} onChange={(node) => update(index, node)} path={here} errors={errors} depth={depth + 1} />
              ) : (
                <ConditionEditor condition={child} onChange={(node) => update(index, node)} errors={errorsUnder(errors, child.negate ? join(here, 'not') : here)} />
              )}
              <button type="button" className="quiet small" onClick={() => update(index, null)} aria-label={`Remove condition ${index + 1}`}>
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <label>
        Add{' '}
        <select value="" onChange={(event) => event.target.value && add(event.target.value)} aria-label="Add a condition">
          <option value="">a condition…</option>
          {Object.entries(KINDS).map(([kind, label]) => (
            <option key={kind} value={kind}>
              {label}
            </option>
          ))}
          <option value="group">a group (all / any)</option>
        </select>
      </label>
    </fieldset>
  );
}

type Editable = { negate: boolean } & Condition;

function ConditionEditor({ condition, onChange, errors }: { condition: Editable; onChange: (node: Node) => void; errors: string[] }) {
  const set = (patch: Partial<Condition>) => onChange({ ...condition, ...patch } as Node);
  return (
    <div className="condition" role="group" aria-label={KINDS[condition.kind]}>
      <span className="kind">{KINDS[condition.kind]}</span>
      <label className="check">
        <input type="checkbox" checked={condition.negate} onChange={(event) => onChange({ ...condition, negate: event.target.checked })} /> not
      </label>
      <ConditionFields condition={condition} set={set} />
      {errors.map((error) => (
        <small className="error" role="alert" key={error}>
          {error}
        </small>
      ))}
    </div>
  );
}

function ConditionFields({ condition, set }: { condition: Condition; set: (patch: Partial<Condition>) => void }) {
  switch (condition.kind) {
    case 'attribute':
      return <ComparisonFields comparison={condition.comparison} onChange={(comparison) => set({ comparison })} pathLabel="Field or attribute" placeholder="city, address.country, email" />;
    case 'tag':
      return <Text label="Has tag" value={condition.has} onChange={(has) => set({ has })} />;
    case 'event':
      return (
        <>
          <Text label="Event" value={condition.name} onChange={(name) => set({ name })} placeholder="added_to_cart" />
          <OpSelect label="Times" value={condition.countOp} onChange={(countOp) => set({ countOp })} numeric />
          <Text label="Count" value={condition.count} onChange={(count) => set({ count })} type="number" />
          <Text label="In the last days" value={condition.withinDays} onChange={(withinDays) => set({ withinDays })} type="number" placeholder="ever" />
          <WhereList where={condition.where} onChange={(where) => set({ where })} />
        </>
      );
    case 'aggregate':
      return (
        <>
          <label>
            Function{' '}
            <select value={condition.fn} onChange={(event) => set({ fn: event.target.value as (typeof AGGREGATES)[number] })}>
              {AGGREGATES.map((fn) => (
                <option key={fn}>{fn}</option>
              ))}
            </select>
          </label>
          <Text label="Of property" value={condition.property} onChange={(property) => set({ property })} placeholder="value" />
          <Text label="Over event" value={condition.event} onChange={(event) => set({ event })} placeholder="purchase" />
          <OpSelect label="Is" value={condition.op} onChange={(op) => set({ op })} numeric />
          <Text label="Value" value={condition.value} onChange={(value) => set({ value })} type="number" />
          <Text label="In the last days" value={condition.withinDays} onChange={(withinDays) => set({ withinDays })} type="number" placeholder="ever" />
        </>
      );
    case 'lastSeen':
      return (
        <>
          <label>
            Seen{' '}
            <select value={condition.mode} onChange={(event) => set({ mode: event.target.value as 'olderThanDays' | 'withinDays' })}>
              <option value="olderThanDays">not in the last (inactive)</option>
              <option value="withinDays">within the last</option>
            </select>
          </label>
          <Text label="Days" value={condition.days} onChange={(days) => set({ days })} type="number" />
        </>
      );
    case 'pushSubscribed':
    case 'identified':
      return (
        <label>
          Is{' '}
          <select value={String(condition.value)} onChange={(event) => set({ value: event.target.value === 'true' })}>
            <option value="true">yes</option>
            <option value="false">no</option>
          </select>
        </label>
      );
  }
}

function WhereList({ where, onChange }: { where: Comparison[]; onChange: (where: Comparison[]) => void }) {
  return (
    <div className="where">
      {where.map((comparison, index) => (
        <div key={index} className="where-row">
          <ComparisonFields
            comparison={comparison}
            onChange={(next) => onChange(where.map((one, at) => (at === index ? next : one)))}
            pathLabel="Where property"
            placeholder="value"
          />
          <button type="button" className="quiet small" onClick={() => onChange(where.filter((_, at) => at !== index))}>
            Remove filter
          </button>
        </div>
      ))}
      <button type="button" className="quiet small" onClick={() => onChange([...where, { path: '', op: 'EQ', value: '' }])}>
        Add property filter
      </button>
    </div>
  );
}

/** path / op / value, shared by attribute conditions, event filters and trigger filters. */
export function ComparisonFields({ comparison, onChange, pathLabel, placeholder }: { comparison: Comparison; onChange: (next: Comparison) => void; pathLabel: string; placeholder?: string }) {
  const noValue = comparison.op === 'EXISTS' || comparison.op === 'NOT_EXISTS';
  return (
    <>
      <Text label={pathLabel} value={comparison.path} onChange={(path) => onChange({ ...comparison, path })} placeholder={placeholder} />
      <OpSelect label="Is" value={comparison.op} onChange={(op) => onChange({ ...comparison, op })} />
      {!noValue && (
        <Text
          label="Value"
          value={comparison.value}
          onChange={(value) => onChange({ ...comparison, value })}
          placeholder={comparison.op === 'IN' || comparison.op === 'NOT_IN' ? 'a, b, c' : ''}
        />
      )}
    </>
  );
}

function OpSelect({ label, value, onChange, numeric = false }: { label: string; value: string; onChange: (op: (typeof OPS)[number]) => void; numeric?: boolean }) {
  const ops = numeric ? OPS.filter((op) => ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE'].includes(op)) : OPS;
  return (
    <label>
      {label}{' '}
      <select value={value} onChange={(event) => onChange(event.target.value as (typeof OPS)[number])}>
        {ops.map((op) => (
          <option key={op} value={op}>
            {OP_WORDS[op] ?? words(op)}
          </option>
        ))}
      </select>
    </label>
  );
}

const OP_WORDS: Record<string, string> = { EQ: '=', NEQ: '≠', GT: '>', GTE: '≥', LT: '<', LTE: '≤', NOT_IN: 'not in', STARTS_WITH: 'starts with', NOT_EXISTS: 'is not set', EXISTS: 'is set' };

function Text({ label, value, onChange, type = 'text', placeholder }: { label: string; value: string; onChange: (value: string) => void; type?: string; placeholder?: string }) {
  return (
    <label>
      {label} <input type={type} value={value} placeholder={placeholder} onChange={(event) => onChange(event.target.value)} size={type === 'number' ? 6 : 16} />
    </label>
  );
}
