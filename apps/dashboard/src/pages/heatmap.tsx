// GPU health at a glance: one row per rack, one block per node, one cell per
// GPU, coloured by its worst condition (grey: healthy; amber: warning; red:
// critical). A host-level problem outlines the node. Live.
import type { GpuHealthMap } from '@metalfleet/api';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { Empty, Loaded } from '../ui.tsx';

type NodeCells = GpuHealthMap['items'][number];

export function HeatmapPage() {
  const map = useLiveData(() => api<GpuHealthMap>('/api/v1/gpu-health'), ['health-changed', 'health-digest', 'node-registered', 'state-changed']);
  return (
    <>
      <h1>GPU health</h1>
      <p class="muted">Racks × nodes × GPUs, coloured by the worst condition. <span class="cell ok" /> healthy <span class="cell warning" /> warning <span class="cell critical" /> critical</p>
      <Loaded {...map} what="GPU health" retry={map.reload}>{(m) => {
        if (m.items.length === 0) return <Empty>No nodes yet.</Empty>;
        const racks = new Map<string, NodeCells[]>();
        for (const n of m.items) racks.set(n.rack || 'no rack', [...(racks.get(n.rack || 'no rack') ?? []), n]);
        return (
          <div class="heatmap" data-testid="heatmap">
            {[...racks].map(([rack, nodes]) => (
              <div class="rack" role="group" aria-label={`rack ${rack}`}>
                <span class="rack-name">{rack}</span>
                {nodes.map((n) => {
                  const bad = n.gpus.filter((g) => g.severity !== 'ok');
                  const title = `${n.hostname} (${n.state})${bad.map((g) => `\nGPU ${g.index ?? `at ${g.bus}, missing`}: ${g.codes.join(', ')}`).join('')}${n.hostCodes.length > 0 ? `\nhost: ${n.hostCodes.join(', ')}` : ''}`;
                  return (
                    <a class={`node host-${n.host}`} href={`#/nodes/${n.nodeId}`} title={title} data-testid={`heat-${n.hostname}`} data-worst={[n.host, ...n.gpus.map((g) => g.severity)].includes('critical') ? 'critical' : [n.host, ...n.gpus.map((g) => g.severity)].includes('warning') ? 'warning' : 'ok'}>
                      {n.gpus.map((g) => <span class={`cell ${g.severity}`} />)}
                    </a>
                  );
                })}
              </div>
            ))}
          </div>
        );
      }}</Loaded>
    </>
  );
}
