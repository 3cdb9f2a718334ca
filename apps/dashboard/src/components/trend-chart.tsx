// The failure rate per day over the last 30 days (failed nodes that day / the
// fleet now, in %): is the fleet getting worse? The counts are in the tooltip.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export function TrendChart({ points }: { points: ReadonlyArray<{ at: string; failedNodes: number; failures: number; rate: number }> }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const plot = new uPlot({
      width: Math.max(420, box.current.clientWidth - 16), height: 180,
      series: [{}, {
        label: 'failure rate', stroke: '#c21f1f', fill: 'rgba(194, 31, 31, .12)', width: 1.5,
        value: (_u, v, _s, i) => (v === null ? '—' : `${v.toFixed(1)} % (${points[i ?? 0]?.failedNodes ?? 0} nodes, ${points[i ?? 0]?.failures ?? 0} failures)`),
      }],
      axes: [{}, { label: '% of the fleet failed, per day', values: (_u, ticks) => ticks.map((t) => `${t} %`) }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    }, [points.map((p) => Date.parse(p.at) / 1000), points.map((p) => 100 * p.rate)], box.current);
    return () => plot.destroy();
  }, [points]);
  return <div ref={box} class="chart" role="img" aria-label="failure rate per day over the last 30 days" />;
}
