import { type FieldError, ValidationError } from '../errors.ts';

export const Ops = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'NOT_IN', 'CONTAINS', 'STARTS_WITH', 'EXISTS', 'NOT_EXISTS'] as const;
export type Op = (typeof Ops)[number];
export const AggregateFns = ['SUM', 'AVG', 'MIN', 'MAX', 'COUNT'] as const;
export type AggregateFn = (typeof AggregateFns)[number];
export const Audiences = ['IDENTIFIED', 'ANONYMOUS', 'ALL'] as const;
export type Audience = (typeof Audiences)[number];

export type Scalar = string | number | boolean;
export interface Condition {
  path: string;
  op: Op;
  value?: unknown;
}
export interface Comparison {
  op: Op;
  value: number;
}

/** A segment rule: exactly one kind of condition per node, as the @oneOf SegmentRuleInput. */
export type Rule =
  | { and: Rule[] }
  | { or: Rule[] }
  | { not: Rule }
  | { attribute: Condition }
  | { tag: { has: string } }
  | { event: { name: string; where?: Condition[] | null; count?: Comparison | null; withinDays?: number | null } }
  | { aggregate: { event: string; property: string; fn: AggregateFn; op: Op; value: number; withinDays?: number | null } }
  | { lastSeen: { olderThanDays?: number | null; withinDays?: number | null } }
  | { pushSubscribed: boolean }
  | { identified: boolean };

export const LIMITS = { depth: 10, conditions: 100, withinDays: 3650 } as const;

const PATH = /^[A-Za-z_][\w-]*(\.[\w-]+)*$/;
const NUMERIC_OPS: readonly Op[] = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE'];

/**
 * Checks a rule as a whole and answers every problem with its place in the rule, e.g.
 * ["rule", "and", "2", "event", "withinDays"]. Returns the rule, typed.
 */
export function validateRule(input: unknown, path: string[] = ['rule']): Rule {
  const errors: FieldError[] = [];
  let conditions = 0;
  const fail = (at: string[], message: string) => errors.push({ path: at, message });

  const checkDays = (value: unknown, at: string[]) => {
    if (value == null) return;
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > LIMITS.withinDays) {
      fail(at, `must be a whole number of days from 1 to ${LIMITS.withinDays}`);
    }
  };
  const checkCondition = (condition: Condition, at: string[]) => {
    if (typeof condition?.path !== 'string' || !PATH.test(condition.path)) fail([...at, 'path'], 'must be a field or a dotted attribute path, e.g. "address.country"');
    checkValue(condition.op, condition.value, at, fail);
  };

  const visit = (node: unknown, at: string[], depth: number) => {
    if (depth > LIMITS.depth) return fail(at, `rules may nest at most ${LIMITS.depth} levels deep`);
    if (typeof node !== 'object' || node === null) return fail(at, 'must be a rule object');
    const keys = Object.keys(node).filter((key) => (node as Record<string, unknown>)[key] !== undefined && (node as Record<string, unknown>)[key] !== null);
    if (keys.length !== 1) return fail(at, 'must have exactly one of and, or, not, attribute, tag, event, aggregate, lastSeen, pushSubscribed, identified');
    const kind = keys[0]!;
    const value = (node as Record<string, any>)[kind];
    const here = [...at, kind];
    switch (kind) {
      case 'and':
      case 'or':
        if (!Array.isArray(value) || value.length === 0) return fail(here, 'must list at least one rule');
        value.forEach((child, index) => visit(child, [...here, String(index)], depth + 1));
        return;
      case 'not':
        return visit(value, here, depth + 1);
      case 'attribute':
        conditions++;
        return checkCondition(value, here);
      case 'tag':
        conditions++;
        if (typeof value?.has !== 'string' || !value.has) fail([...here, 'has'], 'must name a tag');
        return;
      case 'event':
        conditions++;
        if (typeof value?.name !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(value.name)) fail([...here, 'name'], 'must be an event name');
        (value?.where ?? []).forEach((condition: Condition, index: number) => {
          conditions++;
          checkCondition(condition, [...here, 'where', String(index)]);
        });
        if (value?.count != null) {
          if (!NUMERIC_OPS.includes(value.count.op)) fail([...here, 'count', 'op'], 'must be one of EQ NEQ GT GTE LT LTE');
          if (!Number.isInteger(value.count.value) || value.count.value < 0) fail([...here, 'count', 'value'], 'must be a whole number ≥ 0');
        }
        return checkDays(value?.withinDays, [...here, 'withinDays']);
      case 'aggregate':
        conditions++;
        if (typeof value?.event !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(value.event)) fail([...here, 'event'], 'must be an event name');
        if (typeof value?.property !== 'string' || !PATH.test(value.property)) fail([...here, 'property'], 'must be a property path, e.g. "value"');
        if (!AggregateFns.includes(value?.fn)) fail([...here, 'fn'], 'must be one of SUM AVG MIN MAX COUNT');
        if (!NUMERIC_OPS.includes(value?.op)) fail([...here, 'op'], 'must be one of EQ NEQ GT GTE LT LTE');
        if (typeof value?.value !== 'number' || !Number.isFinite(value.value)) fail([...here, 'value'], 'must be a number');
        return checkDays(value?.withinDays, [...here, 'withinDays']);
      case 'lastSeen':
        conditions++;
        if (value?.olderThanDays == null && value?.withinDays == null) fail(here, 'give olderThanDays, withinDays or both');
        checkDays(value?.olderThanDays, [...here, 'olderThanDays']);
        return checkDays(value?.withinDays, [...here, 'withinDays']);
      case 'pushSubscribed':
      case 'identified':
        conditions++;
        if (typeof value !== 'boolean') fail(here, 'must be true or false');
        return;
      default:
        return fail(here, 'is not a kind of rule');
    }
  };

  visit(input, path, 1);
  if (conditions > LIMITS.conditions) fail(path, `a rule may have at most ${LIMITS.conditions} conditions (this one has ${conditions})`);
  if (errors.length) throw new ValidationError(errors);
  return input as Rule;
}

function checkValue(op: Op, value: unknown, at: string[], fail: (at: string[], message: string) => void) {
  if (!Ops.includes(op)) return fail([...at, 'op'], `must be one of ${Ops.join(' ')}`);
  const scalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v) && (typeof v !== 'number' || Number.isFinite(v));
  switch (op) {
    case 'EXISTS':
    case 'NOT_EXISTS':
      if (value != null) fail([...at, 'value'], `must be left out for ${op}`);
      return;
    case 'IN':
    case 'NOT_IN':
      if (!Array.isArray(value) || value.length === 0 || value.length > 1000 || !value.every(scalar)) fail([...at, 'value'], 'must be a list of 1-1000 strings, numbers or booleans');
      return;
    case 'CONTAINS':
    case 'STARTS_WITH':
      if (typeof value !== 'string' || value === '') fail([...at, 'value'], 'must be a non-empty string');
      return;
    case 'EQ':
    case 'NEQ':
      if (!scalar(value)) fail([...at, 'value'], 'must be a string, number or boolean');
      return;
    default:
      if (!(typeof value === 'number' && Number.isFinite(value)) && typeof value !== 'string') fail([...at, 'value'], 'must be a number, a date or a string');
  }
}

/**
 * ISO 8601 dates ("2024-05-01", "2024-05-01T10:00:00Z") are compared as instants, not text. A value
 * naming a day the calendar lacks ("2024-02-30") is not a date: JavaScript would roll it over to
 * March, PostgreSQL refuses it, so Herald compares it as the string it is.
 */
export const ISO_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$/;
export function isIsoDate(value: unknown): value is string {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) return false;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, keeps years 0-99 as they are
  return calendar.getUTCDate() === day;
}
