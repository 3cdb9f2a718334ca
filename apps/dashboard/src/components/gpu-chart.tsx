// One telemetry metric for every GPU of a node, as lines over the last hour or
// day (uPlot: made for thousands of points, small, no dependencies).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TelemetrySeries } from '@metalfleet/api';

const palette = ['#1f5fbf', '#c21f1f', '#1a7f37', '#b35900', '#6639ba', '#0e7490', '#be185d', '#4d7c0f'];

/** Series on one time axis: the union of every series' bucket times; a bucket a GPU lacks is a gap. */
export function alignSeries(series: readonly TelemetrySeries[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => Date.parse(p.at) / 1000)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column: Array<number | null> = times.map(() => null);
    for (const p of s.points) column[index.get(Date.parse(p.at) / 1000) ?? 0] = p.avg;
    return column;
  });
  return [times, ...columns];
}

export function GpuChart({ series, unit, label }: { series: readonly TelemetrySeries[]; unit: string; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const plot = new uPlot({
      width: Math.max(480, box.current.clientWidth), height: 260, title: label,
      series: [{}, ...series.map((s, i) => ({ label: `GPU ${s.gpu ?? '-'}`, stroke: palette[i % palette.length] ?? '#333', width: 1.5, value: (_: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(1)} ${unit}`) }))],
      axes: [{}, { label: unit }],
    }, alignSeries(series), box.current);
    return () => plot.destroy();
  }, [series, unit, label]);
  return <div ref={box} class="chart" role="img" aria-label={`${label}, one line per GPU`} />;
}
