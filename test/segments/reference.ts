/**
 * A small in-memory evaluator of segment rules, written for the tests independently of the SQL
 * compiler: the property test checks that both pick the same contacts.
 */
import { isIsoDate, type Condition, type Rule, type Audience } from '../../src/segments/rule.ts';

export interface RefEvent {
  name: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
}
export interface RefContact {
  id: string;
  fields: Record<string, string | null>;
  attributes: Record<string, unknown>;
  tags: string[];
  identified: boolean;
  lastSeenAt: Date | null;
  activeSubscription: boolean;
  events: RefEvent[];
}

const DAY = 86_400_000;
const OWN_FIELDS = ['externalId', 'anonymousId', 'email', 'phone', 'firstName', 'lastName', 'locale', 'timezone'];

function instant(value: string): number | undefined {
  if (!isIsoDate(value)) return undefined;
  const normalized = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  const time = Date.parse(normalized);
  return Number.isNaN(time) ? undefined : time;
}

function walk(root: unknown, path: string[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    // As PostgreSQL's #>: a negative list position counts from the end.
    value = Array.isArray(value) && /^-\d+$/.test(key) ? value[value.length + Number(key)] : (value as Record<string, unknown>)[key];
  }
  return value;
}

function compare(x: unknown, { path, op, value }: Condition): boolean {
  const present = x !== undefined && x !== null;
  const scalar = typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  switch (op) {
    case 'EXISTS': return present;
    case 'NOT_EXISTS': return !present;
    case 'NEQ': return !compare(x, { path, op: 'EQ', value });
    case 'NOT_IN': return !compare(x, { path, op: 'IN', value });
    case 'IN': return scalar && (value as unknown[]).some((candidate) => candidate === x);
    case 'CONTAINS':
      if (Array.isArray(x)) return x.some((element) => element === value);
      return typeof x === 'string' && x.includes(value as string);
    case 'STARTS_WITH': return typeof x === 'string' && x.startsWith(value as string);
    default: {
      const holds = (a: number | string, b: number | string) =>
        ({ EQ: a === b, GT: a > b, GTE: a >= b, LT: a < b, LTE: a <= b })[op as 'EQ'];
      if (isIsoDate(value)) {
        const left = typeof x === 'string' ? instant(x) : undefined;
        return left !== undefined && holds(left, instant(value)!);
      }
      if (typeof value === 'number') return typeof x === 'number' && holds(x, value);
      if (op === 'EQ') return x === value;
      return typeof x === 'string' && holds(x, String(value));
    }
  }
}

const numeric = (op: string, a: number, b: number) => ({ EQ: a === b, NEQ: a !== b, GT: a > b, GTE: a >= b, LT: a < b, LTE: a <= b })[op as 'EQ'];

export function matches(rule: Rule, contact: RefContact, now: Date): boolean {
  if ('and' in rule) return rule.and.every((child) => matches(child, contact, now));
  if ('or' in rule) return rule.or.some((child) => matches(child, contact, now));
  if ('not' in rule) return !matches(rule.not, contact, now);
  if ('attribute' in rule) {
    const { path } = rule.attribute;
    const x = OWN_FIELDS.includes(path)
      ? contact.fields[path]
      : walk(contact.attributes, (path.startsWith('attributes.') ? path.slice(11) : path).split('.'));
    // The contact's email is stored lowercased, and a rule on it compares lowercased; event properties as sent.
    const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
    const value = rule.attribute.value;
    return compare(x, path === 'email' ? { ...rule.attribute, value: Array.isArray(value) ? value.map(lower) : lower(value) } as Condition : rule.attribute);
  }
  if ('tag' in rule) return contact.tags.includes(rule.tag.has);
  if ('identified' in rule) return contact.identified === rule.identified;
  if ('pushSubscribed' in rule) return contact.activeSubscription === rule.pushSubscribed;
  if ('lastSeen' in rule) {
    const { olderThanDays, withinDays } = rule.lastSeen;
    const seen = contact.lastSeenAt?.getTime();
    if (olderThanDays != null && !(seen === undefined || seen < now.getTime() - olderThanDays * DAY)) return false;
    if (withinDays != null && !(seen !== undefined && seen >= now.getTime() - withinDays * DAY)) return false;
    return true;
  }
  if ('event' in rule) {
    const { name, where, count, withinDays } = rule.event;
    const matching = contact.events.filter(
      (event) =>
        event.name === name &&
        (withinDays == null || event.occurredAt.getTime() >= now.getTime() - withinDays * DAY) &&
        (where ?? []).every((condition) => compare(walk(event.properties, condition.path.split('.')), condition)),
    );
    const { op, value } = count ?? { op: 'GTE', value: 1 };
    return numeric(op, matching.length, value);
  }
  const { event, property, fn, op, value, withinDays } = rule.aggregate;
  const numbers = contact.events
    .filter((e) => e.name === event && (withinDays == null || e.occurredAt.getTime() >= now.getTime() - withinDays * DAY))
    .map((e) => walk(e.properties, property.split('.')))
    .filter((n): n is number => typeof n === 'number');
  if (fn === 'COUNT') return numeric(op, numbers.length, value);
  if (fn === 'SUM') return numeric(op, numbers.reduce((a, b) => a + b, 0), value);
  if (!numbers.length) return false;
  const result = fn === 'MIN' ? Math.min(...numbers) : fn === 'MAX' ? Math.max(...numbers) : numbers.reduce((a, b) => a + b, 0) / numbers.length;
  return numeric(op, result, value);
}

export function inAudience(audience: Audience, contact: RefContact): boolean {
  return audience === 'ALL' || (audience === 'IDENTIFIED') === contact.identified;
}
