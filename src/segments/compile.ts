import { Prisma } from '../db/prisma.ts';
import { resolveZone } from '../workspaces/settings.ts';
import { type Audience, type Comparison, type Condition, isIsoDate, type Op, type Rule } from './rule.ts';

const sql = Prisma.sql;
const TRUE = sql`TRUE`;
const FALSE = sql`FALSE`;

/** Contact columns a rule can name directly; any other path reads the contact's attributes. */
export const CONTACT_FIELDS: Record<string, string> = {
  externalId: '"externalId"',
  anonymousId: '"anonymousId"',
  email: 'email',
  phone: 'phone',
  firstName: '"firstName"',
  lastName: '"lastName"',
  locale: 'locale',
  timezone: 'timezone',
  createdAt: '"createdAt"',
  lastSeenAt: '"lastSeenAt"',
  consentedAt: '"consentedAt"',
};

/** The contact column a path names, if any: own keys only, so `constructor` or `toString` read attributes like any other name. */
function contactColumn(path: string): string | undefined {
  return Object.hasOwn(CONTACT_FIELDS, path) ? CONTACT_FIELDS[path] : undefined;
}

/** Turns zone-less ISO dates into UTC ones, so PostgreSQL and JavaScript read them alike. */
export function normalizeIsoDate(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T00:00:00Z`;
  return /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
}

/**
 * Compiles a validated rule into a WHERE condition on `"Contact" c`. Every value is a bound
 * parameter; the SQL text depends only on the rule's shape. `now` fixes "the last N days".
 */
export interface CompileContext {
  workspaceId: string;
  now: Date;
}

export function compileRule(rule: Rule, context: CompileContext): Prisma.Sql {
  const { now } = context;
  // An empty group (Herald's own "nobody", { not: { and: [] } }, for a deleted segment) is TRUE or FALSE: Prisma.join refuses none.
  if ('and' in rule) return rule.and.length ? sql`(${Prisma.join(rule.and.map((child) => compileRule(child, context)), ' AND ')})` : TRUE;
  if ('or' in rule) return rule.or.length ? sql`(${Prisma.join(rule.or.map((child) => compileRule(child, context)), ' OR ')})` : FALSE;
  if ('not' in rule) return sql`(NOT ${compileRule(rule.not, context)})`;
  if ('attribute' in rule) return attributeEquality(rule.attribute) ?? compareJson(contactValue(rule.attribute.path), asStored(rule.attribute));
  // Every condition is TRUE or FALSE, never NULL, so NOT means "everyone else".
  // Written so the GIN index on tags applies (COALESCE would hide it); NULL tags give FALSE.
  if ('tag' in rule) return sql`(c.tags @> ARRAY[${rule.tag.has}]::text[] AND c.tags IS NOT NULL)`;
  if ('identified' in rule) return sql`(c.identified = ${rule.identified})`;
  if ('pushSubscribed' in rule) {
    const exists = sql`EXISTS (SELECT 1 FROM "PushSubscription" s WHERE s."contactId" = c.id AND s.status = 'ACTIVE')`;
    return rule.pushSubscribed ? exists : sql`(NOT ${exists})`;
  }
  if ('lastSeen' in rule) {
    const parts: Prisma.Sql[] = [];
    // Never seen counts as "not seen for N days".
    if (rule.lastSeen.olderThanDays != null) parts.push(sql`(c."lastSeenAt" IS NULL OR c."lastSeenAt" < ${daysBefore(now, rule.lastSeen.olderThanDays)})`);
    if (rule.lastSeen.withinDays != null) parts.push(sql`COALESCE(c."lastSeenAt" >= ${daysBefore(now, rule.lastSeen.withinDays)}, FALSE)`);
    return sql`(${Prisma.join(parts, ' AND ')})`;
  }
  if ('event' in rule) {
    const { name, where, count, withinDays } = rule.event;
    const filters = [sql`e.name = ${name}`, compileEventWhere(where ?? [])];
    if (withinDays != null) filters.push(sql`e."occurredAt" >= ${daysBefore(now, withinDays)}`);
    return countedEvents(context, Prisma.join(filters, ' AND '), sql`count(*)`, count ?? { op: 'GTE', value: 1 }, true);
  }
  const { event, property, fn, op, value, withinDays } = rule.aggregate;
  const number = sql`(CASE WHEN jsonb_typeof(e.properties #> ${pathOf(property)}::text[]) = 'number' THEN (e.properties #> ${pathOf(property)}::text[])::numeric END)`;
  const filters = [sql`e.name = ${event}`];
  if (withinDays != null) filters.push(sql`e."occurredAt" >= ${daysBefore(now, withinDays)}`);
  const aggregate = { SUM: sql`COALESCE(sum(${number}), 0)`, COUNT: sql`count(${number})`, AVG: sql`avg(${number})`, MIN: sql`min(${number})`, MAX: sql`max(${number})` }[fn];
  // With no matching events SUM and COUNT are 0; AVG, MIN and MAX are undefined and never match.
  return countedEvents(context, Prisma.join(filters, ' AND '), aggregate, { op, value }, fn === 'SUM' || fn === 'COUNT');
}

/** Conditions on an event's properties (a rule's or a trigger's `where`), as a WHERE condition on `"Event" e`. */
export function compileEventWhere(where: readonly Condition[]): Prisma.Sql {
  if (where.length === 0) return TRUE;
  return Prisma.join(where.map((condition) => compareJson(sql`(e.properties #> ${pathOf(condition.path)}::text[])`, condition)), ' AND ');
}

/**
 * One condition of `where` that compileEventWhere writes as plain JSON equality (`EQ` on a string
 * that is no date, or on a boolean), as the path and the JSON value it names: an event whose
 * property there is not that value fails `where`. Lets a caller drop events before `where` itself.
 */
export function eventKeyOf(where: readonly Condition[]): { path: string[]; value: string | boolean } | null {
  for (const { path, op, value } of where) {
    if (op === 'EQ' && (typeof value === 'boolean' || (typeof value === 'string' && !isIsoDate(value)))) return { path: pathOf(path), value };
  }
  return null;
}

/**
 * A condition on a contact with its value as the contact's column holds it: emails are stored
 * lowercased, so `email EQ "Ada@Shop.Example"` finds ada@shop.example; time zones by their
 * canonical name (resolveZone), which ICU keeps older for some, so `timezone EQ "Asia/Kolkata"`
 * finds the contacts stored as "Asia/Calcutta" (a prefix, STARTS_WITH, is compared as given). An
 * event's properties are stored as sent and compared as given.
 */
function asStored(condition: Condition): Condition {
  const { path, op } = condition;
  if (path === 'email') return withValues(condition, (given) => given.toLowerCase());
  if (path === 'timezone' && ['EQ', 'NEQ', 'IN', 'NOT_IN'].includes(op)) return withValues(condition, (given) => resolveZone(given) ?? given);
  return condition;
}

/** The condition with each string of its value (or its list) as `stored` gives it. */
function withValues(condition: Condition, stored: (given: string) => string): Condition {
  const each = (given: unknown) => (typeof given === 'string' ? stored(given) : given);
  return { ...condition, value: Array.isArray(condition.value) ? condition.value.map(each) : each(condition.value) };
}

/** The audience restriction, as a WHERE condition on `"Contact" c`. */
export function compileAudience(audience: Audience): Prisma.Sql {
  return audience === 'ALL' ? TRUE : audience === 'IDENTIFIED' ? sql`c.identified` : sql`(NOT c.identified)`;
}

/**
 * Contacts whose events (matching `filters`) give an aggregate satisfying `comparison`. Written
 * as a set of contact ids so PostgreSQL scans events once and hash-joins. When contacts without
 * any matching event satisfy it too (count < 3, sum ≤ 0), the complement is taken instead.
 */
function countedEvents(
  { workspaceId }: CompileContext,
  filters: Prisma.Sql,
  aggregate: Prisma.Sql,
  comparison: Comparison,
  zeroWhenEmpty: boolean,
): Prisma.Sql {
  const holds = compareNumbers(aggregate, comparison.op, comparison.value);
  // Not correlated with c: PostgreSQL runs the subquery once and hashes its contact ids.
  const matching = (having: Prisma.Sql) =>
    sql`c.id IN (SELECT e."contactId" FROM "Event" e WHERE e."workspaceId" = ${workspaceId}::uuid AND ${filters} GROUP BY e."contactId" HAVING ${having})`;
  if (zeroWhenEmpty && satisfies(0, comparison.op, comparison.value)) {
    return sql`(NOT ${matching(sql`NOT (${holds})`)})`;
  }
  return sql`(${matching(holds)})`;
}

function compareNumbers(left: Prisma.Sql, op: Op, value: number): Prisma.Sql {
  const operator = { EQ: '=', NEQ: '<>', GT: '>', GTE: '>=', LT: '<', LTE: '<=' }[op as 'EQ'];
  // Typed explicitly: PostgreSQL would otherwise infer bigint from count(*) and refuse 150.5.
  return sql`COALESCE((${left})::numeric ${Prisma.raw(operator)} ${value}::numeric, FALSE)`;
}

export function satisfies(left: number, op: Op, right: number): boolean {
  switch (op) {
    case 'EQ': return left === right;
    case 'NEQ': return left !== right;
    case 'GT': return left > right;
    case 'GTE': return left >= right;
    case 'LT': return left < right;
    case 'LTE': return left <= right;
    default: return false;
  }
}

function contactValue(path: string): Prisma.Sql {
  const column = contactColumn(path);
  if (column) return sql`to_jsonb(c.${Prisma.raw(column)})`;
  const attributePath = path.startsWith('attributes.') ? path.slice('attributes.'.length) : path;
  return sql`(c.attributes #> ${pathOf(attributePath)}::text[])`;
}

/**
 * `city EQ "Berlin"` as JSON containment, `c.attributes @> '{"city":"Berlin"}'`: the same meaning
 * (a list holding "Berlin" does not match), checked without extracting each contact's value, which
 * measured ~25% faster over a million contacts. Dates keep their instant comparison; numeric path
 * segments (list positions, "-1" the last) keep `#>`.
 */
function attributeEquality({ path, op, value }: Condition): Prisma.Sql | null {
  if (op !== 'EQ' || contactColumn(path) || isIsoDate(value) || !['string', 'number', 'boolean'].includes(typeof value)) return null;
  const keys = pathOf(path.startsWith('attributes.') ? path.slice('attributes.'.length) : path);
  if (keys.some((key) => /^-?\d+$/.test(key))) return null;
  const document = keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
  return sql`(c.attributes @> ${JSON.stringify(document)}::jsonb)`;
}

function pathOf(path: string): string[] {
  return path.split('.');
}

function daysBefore(now: Date, days: number): Prisma.Sql {
  return sql`${new Date(now.getTime() - days * 86_400_000).toISOString()}::timestamptz`;
}

/** One comparison on a JSON value `x` (a contact field, an attribute or an event property). */
function compareJson(x: Prisma.Sql, { path, op, value: given }: Condition): Prisma.Sql {
  const negated: Partial<Record<Op, Op>> = { NEQ: 'EQ', NOT_IN: 'IN', NOT_EXISTS: 'EXISTS' };
  const positive = negated[op];
  if (positive) return sql`(NOT ${compareJson(x, { path, op: positive, value: given })})`;

  const text = sql`(${x} #>> '{}')`;
  const isString = sql`jsonb_typeof(${x}) = 'string'`;
  switch (op) {
    case 'EXISTS':
      return sql`COALESCE(jsonb_typeof(${x}) <> 'null', FALSE)`;
    case 'IN':
      return sql`COALESCE(jsonb_typeof(${x}) IN ('string', 'number', 'boolean') AND ${JSON.stringify(given)}::jsonb @> ${x}, FALSE)`;
    case 'CONTAINS':
      return sql`COALESCE(CASE jsonb_typeof(${x}) WHEN 'array' THEN ${x} @> ${JSON.stringify([given])}::jsonb
                                                  WHEN 'string' THEN strpos(${text}, ${given as string}) > 0 ELSE FALSE END, FALSE)`;
    case 'STARTS_WITH':
      return sql`COALESCE(${isString} AND starts_with(${text}, ${given as string}), FALSE)`;
    default: {
      const operator = Prisma.raw({ EQ: '=', GT: '>', GTE: '>=', LT: '<', LTE: '<=' }[op as 'EQ']);
      if (isIsoDate(given)) {
        // As milliseconds since 1970: PostgreSQL reads no year 0000 (it says 1 BC) nor JavaScript's "+010000-…".
        const instant = sql`('epoch'::timestamptz + ${new Date(normalizeIsoDate(given)).getTime()}::bigint * interval '1 millisecond')`;
        return sql`COALESCE(${isString} AND herald_timestamptz(${text}) ${operator} ${instant}, FALSE)`;
      }
      if (typeof given === 'number') {
        return sql`COALESCE(jsonb_typeof(${x}) = 'number' AND (${x})::numeric ${operator} ${given}::numeric, FALSE)`;
      }
      if (op === 'EQ') return sql`COALESCE(${x} = ${JSON.stringify(given)}::jsonb, FALSE)`;
      return sql`COALESCE(${isString} AND ${text} COLLATE "C" ${operator} ${String(given)} COLLATE "C", FALSE)`;
    }
  }
}
