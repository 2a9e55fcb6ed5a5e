import { closeSync, openSync, readSync } from 'node:fs';
import { AssertionError, Context, type Emitter, type FilterImplOptions, type FS, Liquid, LiquidError, type Template, toValue } from 'liquidjs';

/**
 * The template sandbox. A tenant's Liquid reaches no file (every lookup fails, and the tags that
 * load files are refused when a template is parsed) and renders within a budget checked while it
 * renders: output per field, memory and time per message.
 */

/** What one message's render may use; each channel passes its own (push: content.ts). */
export interface RenderBudget {
  /** Characters one field may render to: the render stops as soon as it passes them. */
  outputChars: number;
  /**
   * Characters the whole message may allocate: every output and capture, every filter's result
   * (and, as liquidjs counts, its input), every range; a bound on the work, counted as it happens.
   */
  memoryChars: number;
  /** Milliseconds the whole message may take to render. */
  timeMs: number;
}

/** Tags that load another template from a file. */
export const FILE_TAGS = ['include', 'render', 'layout'] as const;

export class FileTagRefused extends Error {
  constructor(readonly tag: string) {
    super(`{% ${tag} %} is not allowed: templates cannot read files`);
  }
}

/** Every lookup fails, so no tag or filter added later can read a file either. */
const noFiles: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => {
    throw new Error('templates cannot read files');
  },
  readFileSync: () => {
    throw new Error('templates cannot read files');
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

/** Characters a template may have (liquidjs' parseLimit), and so an expression a filter parses as it renders. */
const MAX_TEMPLATE_CHARS = 10_000;

const liquid = new Liquid({
  strictFilters: true,
  ownPropertyOnly: true,
  fs: noFiles,
  root: [],
  partials: [],
  layouts: [],
  relativeReference: false,
  // A template is a few lines of text.
  parseLimit: MAX_TEMPLATE_CHARS,
});

for (const tag of FILE_TAGS) {
  liquid.registerTag(tag, {
    parse() {
      throw new FileTagRefused(tag);
    },
    render() {},
  });
}

/**
 * Collects output and charges every write to the render's memory. liquidjs' own memoryLimit
 * counts what filters take but not what `{{ … }}` writes, so a string doubled by `{% capture %}`
 * in a loop grew unchecked (issue 15); here each write counts.
 */
class BudgetedOutput implements Emitter {
  buffer = '';

  constructor(
    private readonly context: Context,
    private readonly maxChars = Infinity,
  ) {}

  write(html: unknown): void {
    const text = stringify(html);
    this.context.memoryLimit.use(text.length);
    if (this.buffer.length + text.length > this.maxChars) throw new Error(`output longer than ${this.maxChars} characters`);
    this.buffer += text;
  }
}

// liquidjs gives a tag that renders into a string of its own (capture) a fresh, unchecked emitter:
// every emitter of this instance is a budgeted one instead.
const { renderer } = liquid;
const renderTemplates = renderer.renderTemplates.bind(renderer);
renderer.renderTemplates = (templates, context, emitter) => renderTemplates(templates, context, emitter ?? new BudgetedOutput(context));

type FilterHandler = Exclude<FilterImplOptions, { handler: unknown }>;

/** The filters that parse their last argument as an expression (`where_exp: "item", "item.price > 10"`) and evaluate it per element. */
const EXPRESSION_FILTERS = new Set(['where_exp', 'reject_exp', 'group_by_exp', 'find_exp', 'find_index_exp', 'has_exp']);

// Theirs sort in one native call the clock cannot reach: ours check it at each comparison (below).
liquid.registerFilter('sample', sample);
// Theirs pass over the array in one native call (uniq of (1..1300000), within an email's memory,
// used 0.25-0.7 s of CPU on its 100 ms budget): ours loop, checking the clock as they go (below).
liquid.registerFilter('uniq', uniq);
liquid.registerFilter('join', join);
liquid.registerFilter('compact', compact);
for (const [name, compare] of Object.entries({ sort: orderedCompare, sort_natural: caseInsensitiveCompare })) {
  liquid.registerFilter(name, function* (this: ThisParameterType<FilterHandler>, value: unknown, property?: unknown) {
    return yield* sortBy(this.context, value, property, compare);
  });
}

// liquidjs charges most filters for their input, some for nothing (url_encode grows a string 3x
// unseen): every filter's result counts too, so repeating any filter in a loop meets the budget.
//
// liquidjs checks the time only between template nodes, and one filter loops on its own: where_exp,
// group_by_exp, find_exp, … evaluate a tenant's expression once per element (a 300-term expression
// over a 6,000-element range held the main thread 10 s in one `{% assign %}`, on a 50 ms budget);
// map, where, sum by a property, … read one per element. So the clock is checked at each filter
// call and every CLOCK_EVERY steps of the render's generators (`runTimed`), an element being one or more.
for (const [name, filter] of Object.entries(liquid.filters)) {
  const { handler, raw } = typeof filter === 'function' ? { handler: filter, raw: false } : filter;
  const takesExpression = EXPRESSION_FILTERS.has(name);
  const charged = function (this: ThisParameterType<FilterHandler>, value: unknown, ...args: unknown[]) {
    checkTime(this.context);
    if (takesExpression) refuseLongExpression(name, args[1]);
    return chargeResult(this.context, handler.call(this, value, ...args));
  };
  liquid.registerFilter(name, { handler: charged, raw });
}

function* chargeResult(context: Context, result: unknown): Generator<unknown, unknown, unknown> {
  // Yielding lets liquidjs resolve a filter that is itself a generator (where, find, …), step by
  // step, each step counted by `runTimed`.
  const value = yield result;
  if (typeof value === 'string' || Array.isArray(value)) context.memoryLimit.use(value.length);
  return value;
}

/**
 * Steps of a render's generators (or items of a filter's own loop) between two looks at the clock:
 * a look costs about a step, so rendering a push took no measurably longer.
 */
const CLOCK_EVERY = 64;

/**
 * liquidjs' toValueSync, which runs a render's generators (tags, expressions, filters, every one
 * they nest) to their end, with the clock checked every CLOCK_EVERY steps: `contains` and `==`
 * compare arrays element by element inside one node, an array of references to one big array
 * as cheap to build as it was slow to compare (32 references to 131,072 elements: 0.5 s).
 */
function runTimed(context: Context, root: unknown): unknown {
  let steps = 0;
  const run = (generator: unknown): unknown => {
    if (!isGenerator(generator)) return generator;
    let value: unknown;
    let done = false;
    let next: 'next' | 'throw' = 'next';
    do {
      if (++steps % CLOCK_EVERY === 0) checkTime(context);
      const state = generator[next](value);
      done = state.done === true;
      value = state.value;
      next = 'next';
      if (isGenerator(value)) {
        try {
          value = run(value);
        } catch (error) {
          next = 'throw';
          value = error;
        }
      }
    } while (!done);
    return value;
  };
  return run(root);
}

/** Calls `step` for each item, checking the clock every CLOCK_EVERY items. */
function eachTimed<T>(context: Context, items: readonly T[], step: (item: T) => void): void {
  for (let index = 0; index < items.length; index++) {
    if (index % CLOCK_EVERY === 0) checkTime(context);
    step(items[index]!);
  }
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  const candidate = value as Partial<Generator> | null | undefined;
  return typeof candidate?.next === 'function' && typeof candidate.throw === 'function' && typeof candidate.return === 'function';
}

/**
 * An expression built as the template renders (a string doubled in a loop) is parsed and then
 * evaluated for an element in one step no check reaches: 650,000 characters took 0.3 s. It may
 * be as long as a template may be.
 */
function refuseLongExpression(filter: string, expression: unknown): void {
  const { length } = stringify(expression);
  if (length > MAX_TEMPLATE_CHARS) throw new Error(`${filter}: the expression has ${length} characters; at most ${MAX_TEMPLATE_CHARS}`);
}

/** Ends the render if its time is up: the check liquidjs makes between nodes (a RenderClock in a message's render). */
function checkTime(context: Context): void {
  context.renderLimit.check(performance.now());
}

/**
 * liquidjs' sort and sort_natural, the same order, with the clock checked at each comparison:
 * theirs sort in one native call no check reaches (sort_natural of 600,000 items ran 2.5 s on a
 * 100 ms budget; of 1,000 copies of one long string, each comparison lowercasing both, far longer).
 */
function* sortBy(context: Context, value: unknown, property: unknown, compare: (a: unknown, b: unknown) => number): Generator<unknown, unknown[], unknown> {
  const array = toArray(value);
  context.memoryLimit.use(array.length);
  const path = property ? stringify(property).split('.') : undefined;
  const keyed: [item: unknown, key: unknown][] = [];
  for (const item of array) keyed.push([item, path ? yield context._getFromScope(item, path, false) : item]);
  keyed.sort(([, a], [, b]) => {
    checkTime(context);
    return compare(a, b);
  });
  return keyed.map(([item]) => item);
}

/** liquidjs' orderedCompare: nil last. */
function orderedCompare(a: unknown, b: unknown): number {
  if (a == null || b == null) return a == null ? (b == null ? 0 : 1) : -1;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/** liquidjs' caseInsensitiveCompare: nil last, every other value compared as its lowercased string. */
function caseInsensitiveCompare(a: unknown, b: unknown): number {
  if (a == null || b == null) return orderedCompare(a, b);
  return orderedCompare(String.prototype.toLowerCase.call(a), String.prototype.toLowerCase.call(b));
}

/**
 * liquidjs' sample, shuffled by Fisher-Yates: theirs sorts by a random comparator, n log n in one
 * native call (1.3 million items took 0.75 s on a 100 ms budget).
 */
function sample(this: ThisParameterType<FilterHandler>, input: unknown, count: unknown = 1): unknown {
  const value = toValue(input);
  if (value == null) return [];
  const items = Array.isArray(value) ? [...(value as unknown[])] : stringify(value);
  this.context.memoryLimit.use(items.length);
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  return count === 1 ? shuffled[0] : shuffled.slice(0, count as number);
}

/** liquidjs' uniq: the first of each value (SameValueZero), in order. */
function uniq(this: ThisParameterType<FilterHandler>, value: unknown): unknown[] {
  const array = toArray(value);
  this.context.memoryLimit.use(array.length);
  const seen = new Set<unknown>();
  const unique: unknown[] = [];
  eachTimed(this.context, array, (item) => {
    const before = seen.size;
    if (seen.add(item).size > before) unique.push(item);
  });
  return unique;
}

/** liquidjs' compact: the items that are not nil. */
function compact(this: ThisParameterType<FilterHandler>, value: unknown): unknown[] {
  const array = toArray(value);
  this.context.memoryLimit.use(array.length);
  const kept: unknown[] = [];
  eachTimed(this.context, array, (item) => {
    if (toValue(item) != null) kept.push(item);
  });
  return kept;
}

/**
 * liquidjs' join, charging the string's memory as it measures each item rather than once at the
 * end: an item that is an array is written out to be measured (references to one long array cost
 * no memory until then), so measuring them all could take seconds before the charge failed.
 */
function join(this: ThisParameterType<FilterHandler>, value: unknown, separator?: unknown): string {
  const array = toArray(value);
  const glue = toValue(separator) == null ? ' ' : stringify(separator);
  const { context } = this;
  eachTimed(context, array, (item) => context.memoryLimit.use(String(item).length + glue.length));
  const parts: string[] = [];
  for (let start = 0; start < array.length; start += CLOCK_EVERY) {
    checkTime(context);
    parts.push(array.slice(start, start + CLOCK_EVERY).join(glue));
  }
  return parts.join(glue);
}

/** liquidjs' toArray: an array as is, nil as none, anything else as the one item. */
function toArray(value: unknown): unknown[] {
  const resolved = toValue(value);
  if (Array.isArray(resolved)) return resolved;
  return resolved == null ? [] : [resolved];
}

/** Parses a template; throws a ParseError (wrapping FileTagRefused for a file tag). */
export function parseTemplate(source: string): Template[] {
  return liquid.parse(source);
}

/** The first line of an error's message: what a ValidationError or a failed message shows of it. */
export function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!;
}

/** Why a message cannot be rendered for its recipient: it fails with TEMPLATE_ERROR and is never sent. */
export class RenderError extends Error {
  constructor(
    /** The content field to blame, when it is one. */
    readonly field: string | null,
    detail: string,
  ) {
    super(field ? `${field}: ${detail}` : detail);
  }
}

/**
 * Named content fields parsed once per campaign and rendered per recipient. A field that no longer
 * parses (saved before a rule it breaks, such as file tags being refused) fails each render.
 */
export class CompiledFields<Key extends string> {
  private readonly templates = new Map<Key, Template[] | RenderError>();

  constructor(sources: Iterable<readonly [Key, string | null | undefined]>) {
    for (const [key, source] of sources) {
      if (source == null) continue;
      try {
        this.templates.set(key, parseTemplate(source));
      } catch (error) {
        this.templates.set(key, new RenderError(key, firstLine(error)));
      }
    }
  }

  /** One recipient's fields, all within one `budget`: each field's text, undefined where it has none; a failure is a RenderError naming the field. */
  renderer(budget: RenderBudget, scope: object): (key: Key) => string | undefined {
    const render = messageRenderer(budget);
    return (key) => {
      const templates = this.templates.get(key);
      if (!templates) return undefined;
      if (templates instanceof RenderError) throw templates;
      try {
        return render(templates, scope);
      } catch (error) {
        throw new RenderError(key, firstLine(error));
      }
    };
  }
}

/** Why `source` cannot be a template (it does not parse, or names a file tag), or null. */
export function templateRefusal(source: string): string | null {
  try {
    parseTemplate(source);
    return null;
  } catch (error) {
    const tag = refusedFileTag(error);
    return tag ? `must not use {% ${tag} %}: templates cannot read files` : `is not a valid Liquid template: ${firstLine(error)}`;
  }
}

/** The file tag a parse error refused, if that is why it failed. */
export function refusedFileTag(error: unknown): string | undefined {
  const cause = LiquidError.is(error) ? error.originalError : error;
  return cause instanceof FileTagRefused ? cause.tag : undefined;
}

/**
 * Renders the fields of one message: each field's output within `outputChars`, all of them
 * together within one memory and one time budget. Throws liquidjs' errors when a budget runs out.
 *
 * The time budget is checked between template nodes, and inside the filters that loop (above), on a
 * `RenderClock`, which forgives time the rendering thread did not run (a busy machine descheduling
 * it). A garbage-collection pause still counts,
 * so a message running out of time is given one fresh budget before it fails (a slow template
 * fails twice, at twice the cost).
 */
export function messageRenderer(budget: RenderBudget): (templates: Template[], scope: object) => string {
  let memoryLimit: Context['memoryLimit'] | undefined;
  let clock: RenderClock | undefined;
  let retried = false;
  const render = (templates: Template[], scope: object) => {
    const options = { sync: true, memoryLimit: budget.memoryChars };
    // The first field's context makes the message's memory limit; every field shares it and the clock.
    clock ??= new RenderClock(budget.timeMs);
    const context = new Context(scope, liquid.options, options, { liquid, memoryLimit, renderLimit: clock as unknown as Context['renderLimit'] });
    memoryLimit ??= context.memoryLimit;
    const output = new BudgetedOutput(context, budget.outputChars);
    runTimed(context, renderer.renderTemplates(templates, context, output));
    return output.buffer;
  };
  return (templates, scope) => {
    try {
      return render(templates, scope);
    } catch (error) {
      if (retried || !outOfTime(error)) throw error;
      retried = true;
      memoryLimit = undefined;
      clock = clock!.renewed();
      return render(templates, scope);
    }
  };
}

/**
 * The time limit liquidjs checks between template nodes (its `renderLimit`, given the wall clock's
 * now). liquidjs' own is wall-clock alone, so on a loaded machine a template that needs
 * microseconds could run out of time while the process waited for a core. This one ends a render
 * when the wall clock passes the budget *and* its thread has used that much CPU since the render
 * began (the process's, all threads, where the thread's own is unknown), or when the wall clock
 * passes `HARD_LIMIT_FACTOR` budgets from the message's first render whatever the CPU says, so a
 * message's render stays bounded in time too, its one renewal included.
 */
export class RenderClock {
  static readonly HARD_LIMIT_FACTOR = 5;
  private readonly started = performance.now();
  private readonly cpuAtStart = recentCpuMs();
  private deadline: number;

  constructor(
    private readonly budgetMs: number,
    /** When the message's render began: the hard limit counts from there, across a renewal. */
    private readonly began = performance.now(),
  ) {
    this.deadline = this.started + budgetMs;
  }

  /** A fresh budget for the same message, within the same hard limit. */
  renewed(): RenderClock {
    return new RenderClock(this.budgetMs, this.began);
  }

  /** liquidjs calls `use` on limiters that count; time is only checked. */
  use(): void {}

  check(now: number): void {
    if (now <= this.deadline) return;
    const hardLimit = this.began + this.budgetMs * RenderClock.HARD_LIMIT_FACTOR;
    const ranMs = cpuMs() - this.cpuAtStart;
    if (ranMs >= this.budgetMs || now >= hardLimit) throw new AssertionError('template render limit exceeded'); // what liquidjs' own limit throws
    // Waited, not worked: the render may run for what is left of its budget.
    this.deadline = Math.min(now + (this.budgetMs - ranMs), hardLimit);
  }
}

/**
 * The CPU time of the thread rendering, in ms, where Linux tells it (/proc/thread-self/schedstat,
 * read through a descriptor this thread keeps: ~2 µs a read), else the process's (every thread's).
 * A render's own thread is what its budget is about: with the process's time, an email rendered on
 * the build thread while that thread waited for a core was charged the main thread's work, and a
 * good template could fail as out of time on a loaded machine.
 */
function cpuMs(): number {
  threadCpu ??= openThreadCpu();
  return threadCpu();
}
let threadCpu: (() => number) | undefined;

function openThreadCpu(): () => number {
  const processCpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r'); // resolved now: this thread's file, for good
  } catch {
    return processCpu;
  }
  process.once('exit', () => closeSync(fd)); // a worker thread's own process object: its exit
  const buffer = Buffer.alloc(64);
  return () => {
    const text = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
    const ns = Number(text.slice(0, text.indexOf(' '))); // the first field: ns on a CPU
    return Number.isFinite(ns) ? ns / 1e6 : processCpu();
  };
}

/**
 * The thread's CPU time as read at most CPU_READING_MS ago: messages rendered back to back share
 * one reading (rendering a mobile push takes ~4 µs), so a render may count up to CPU_READING_MS of
 * its thread's CPU from before it began against its 50-100 ms budget.
 */
function recentCpuMs(): number {
  const now = performance.now();
  if (now - cpuReading.at > CPU_READING_MS) cpuReading = { at: now, ms: cpuMs() };
  return cpuReading.ms;
}
const CPU_READING_MS = 1;
let cpuReading = { at: -Infinity, ms: 0 };

/** Whether a render failed because its time budget ran out (liquidjs' renderLimit). */
export function outOfTime(error: unknown): boolean {
  return error instanceof Error && error.message.includes('template render limit exceeded');
}

/** What liquidjs writes for a value (its own `stringify` is not exported). */
export function stringify(value: unknown): string {
  const resolved: unknown = toValue(value);
  if (typeof resolved === 'string') return resolved;
  if (resolved == null) return '';
  if (Array.isArray(resolved)) return resolved.map(stringify).join('');
  return String(resolved);
}
