import { count } from '../ui/format.ts';
import { edgesOf, type JourneyStep, kindOf } from './steps.ts';

const W = 168;
const H = 58;
const GAP_X = 48;
/** Room on the right for an arrow looping back up. */
const LOOP = 48;
const GAP_Y = 56;
type Figures = Map<string, { entered: number; waiting: number }>;

/**
 * Rows by distance from the start: a step sits one row below the nearest step that leads to it
 * (breadth-first, so a loop back does not push it down); steps nothing leads to go last.
 */
function layers(steps: JourneyStep[]): string[][] {
  const byKey = new Map(steps.map((step) => [step.key, step]));
  const depth = new Map<string, number>();
  const queue = steps.length ? [steps[0]!.key] : [];
  if (queue.length) depth.set(queue[0]!, 0);
  while (queue.length) {
    const key = queue.shift()!;
    for (const edge of edgesOf(byKey.get(key)!)) {
      if (edge.to && byKey.has(edge.to) && !depth.has(edge.to)) {
        depth.set(edge.to, depth.get(key)! + 1);
        queue.push(edge.to);
      }
    }
  }
  const last = Math.max(-1, ...depth.values()) + 1;
  const rows: string[][] = [];
  for (const step of steps) (rows[depth.get(step.key) ?? last] ??= []).push(step.key);
  return rows.filter(Boolean);
}

type Point = { x: number; y: number };

/** An arrow between two boxes and where its label goes: down between rows, across within a row, or back up around the right. */
function arrow(from: Point, to: Point): { path: string; lx: number; ly: number } {
  if (to.y > from.y) {
    const [x1, y1, x2, y2] = [from.x + W / 2, from.y + H, to.x + W / 2, to.y];
    return { path: `M ${x1} ${y1} C ${x1} ${y1 + GAP_Y / 2}, ${x2} ${y2 - GAP_Y / 2}, ${x2} ${y2}`, lx: (x1 + x2) / 2, ly: (y1 + y2) / 2 };
  }
  if (to.y === from.y) {
    const right = to.x > from.x;
    const [x1, x2, y] = [right ? from.x + W : from.x, right ? to.x : to.x + W, from.y + H / 2];
    return { path: `M ${x1} ${y} L ${x2} ${y}`, lx: (x1 + x2) / 2, ly: y - 5 };
  }
  const [x1, y1, x2, y2] = [from.x + W, from.y + H / 2, to.x + W, to.y + H / 2];
  const out = Math.max(x1, x2) + LOOP - 8;
  return { path: `M ${x1} ${y1} C ${out} ${y1}, ${out} ${y2}, ${x2} ${y2}`, lx: out - 10, ly: (y1 + y2) / 2 };
}

/**
 * The journey as a graph: each step a box with its live arrived / here-now counts, each way out
 * an arrow with its label ("then", "yes", "A (30%)"). A picture of the cards below, which carry
 * the same facts (and the links between steps) for a screen reader and the keyboard.
 */
export function JourneyGraph({ steps, figures }: { steps: JourneyStep[]; figures: Figures }) {
  const rows = layers(steps);
  const width = Math.max(1, ...rows.map((row) => row.length)) * (W + GAP_X) + GAP_X + LOOP;
  const height = rows.length * (H + GAP_Y) + 12;
  const at = new Map<string, { x: number; y: number }>();
  rows.forEach((row, r) => {
    const offset = (width - LOOP - row.length * (W + GAP_X) + GAP_X) / 2;
    row.forEach((key, c) => at.set(key, { x: offset + c * (W + GAP_X), y: 6 + r * (H + GAP_Y) }));
  });
  const byKey = new Map(steps.map((step) => [step.key, step]));
  return (
    <figure className="journey-graph">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-labelledby="journey-graph-title">
        <title id="journey-graph-title">{`The journey's ${steps.length} steps as a graph; each step is described in the list below.`}</title>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
          </marker>
        </defs>
        {steps.flatMap((step) =>
          edgesOf(step)
            .filter((edge) => edge.to && at.has(edge.to))
            .map((edge) => {
              const from = at.get(step.key)!;
              const to = at.get(edge.to!)!;
              const { path, lx, ly } = arrow(from, to);
              return (
                <g key={`${step.key}-${edge.label}`} className="graph-edge" data-edge={`${step.key}->${edge.to}`}>
                  <path d={path} markerEnd="url(#arrow)" />
                  <text x={lx} y={ly} textAnchor="middle">
                    {edge.label}
                  </text>
                </g>
              );
            }),
        )}
        {[...at].map(([key, { x, y }], index) => {
          const step = byKey.get(key)!;
          const figure = figures.get(key);
          return (
            <g key={key} data-graph-step={key}>
              <rect x={x} y={y} width={W} height={H} rx={8} className={index === 0 && key === steps[0]?.key ? 'graph-node start' : 'graph-node'} />
              <text x={x + 10} y={y + 20} className="graph-key">
                {key.length > 18 ? `${key.slice(0, 17)}…` : key} · {kindOf(step)}
              </text>
              <text x={x + 10} y={y + 42} className="graph-figures" data-testid={`graph-${key}-figures`}>
                {`${count(figure?.entered ?? 0)} arrived · ${count(figure?.waiting ?? 0)} here`}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
