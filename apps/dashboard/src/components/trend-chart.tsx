// Failed nodes per day over the last 30 days: is the fleet getting worse?
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export function TrendChart({ points }: { points: ReadonlyArray<{ at: string; failedNodes: number; failures: number }> }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const plot = new uPlot({
      width: Math.max(420, box.current.clientWidth - 16), height: 180,
      series: [{}, { label: 'failed nodes', stroke: '#c21f1f', fill: 'rgba(194, 31, 31, .12)', width: 1.5 }, { label: 'failures', stroke: '#b35900', width: 1, dash: [4, 4] }],
      axes: [{}, { label: 'per day' }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    }, [points.map((p) => Date.parse(p.at) / 1000), points.map((p) => p.failedNodes), points.map((p) => p.failures)], box.current);
    return () => plot.destroy();
  }, [points]);
  return <div ref={box} class="chart" role="img" aria-label="failed nodes per day over the last 30 days" />;
}
