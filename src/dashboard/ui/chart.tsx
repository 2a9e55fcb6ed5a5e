import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** Colours that keep 3:1 contrast against the white background (WCAG non-text contrast). */
const COLOURS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c'];

/**
 * A time series (uPlot, ~50 KB): `times` are instants in ms, shown in `timeZone`. The chart is an
 * image to assistive technology, described by `summary`; the figures themselves are in the page.
 */
export function TimeChart({ times, series, timeZone, summary, height = 240 }: { times: number[]; series: ChartSeries[]; timeZone?: string; summary: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((one) => one.label).join('|') + (timeZone ?? '');

  useEffect(() => {
    const element = box.current!;
    const options: uPlot.Options = {
      width: element.clientWidth || 600,
      height,
      tzDate: timeZone ? (seconds) => uPlot.tzDate(new Date(seconds * 1000), timeZone) : undefined,
      series: [{}, ...series.map((one, index) => ({ label: one.label, stroke: COLOURS[index % COLOURS.length], width: 2, points: { show: times.length < 60 } }))],
      axes: [{}, { size: 60 }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    };
    const chart = new uPlot(options, [times.map((time) => time / 1000), ...series.map((one) => one.values)], element);
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change shape; new figures go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times.map((time) => time / 1000), ...series.map((one) => one.values)]);
  }, [times, series]);

  return <div className="chart" ref={box} role="img" aria-label={summary} />;
}
