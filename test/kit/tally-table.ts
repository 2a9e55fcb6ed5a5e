import { readFileSync } from 'node:fs';
import type { Tally } from './tally.ts';

const COLUMNS = ['trials', 'faults', 'inputs', 'attacks', 'duplicates', 'losses', 'leaks'] as const;

/** The run's figures as a Markdown table, one row per check and a totals row. */
export function tallyTable(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const rows = new Map<string, Record<(typeof COLUMNS)[number], number>>();
  for (const line of text.split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as Tally;
    const row = rows.get(entry.check) ?? { trials: 0, faults: 0, inputs: 0, attacks: 0, duplicates: 0, losses: 0, leaks: 0 };
    for (const column of COLUMNS) row[column] += entry[column] ?? 0;
    rows.set(entry.check, row);
  }
  if (rows.size === 0) return null;
  const total = Object.fromEntries(COLUMNS.map((column) => [column, [...rows.values()].reduce((sum, row) => sum + row[column], 0)]));
  const line = (cells: (string | number)[]) => `| ${cells.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)).join(' | ')} |`;
  return [
    line(['check', ...COLUMNS]),
    line(['---', ...COLUMNS.map(() => '---:')]),
    ...[...rows].map(([check, row]) => line([check, ...COLUMNS.map((column) => row[column])])),
    line(['**total**', ...COLUMNS.map((column) => `**${total[column]!.toLocaleString('en-US')}**`)]),
  ].join('\n');
}
