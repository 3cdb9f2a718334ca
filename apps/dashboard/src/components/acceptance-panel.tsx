// A node's latest acceptance run: each check with what was measured, the
// threshold and the verdict, the failing ones first; and how many runs before.
import type { AcceptanceRunList } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { Badge, Empty, Loaded, when } from '../ui.tsx';

const order = { fail: 0, skip: 1, pass: 2 } as const;

export function AcceptancePanel({ nodeId }: { nodeId: string }) {
  const runs = useLiveData(() => api<Static<typeof AcceptanceRunList>>(`/api/v1/nodes/${encodeURIComponent(nodeId)}/acceptance`), ['state-changed'], [nodeId]);
  return (
    <>
      <h2 id="acceptance-h">Acceptance</h2>
      <Loaded {...runs} what="acceptance runs">{(list) => {
        const [latest, ...before] = list.items;
        if (!latest) return <Empty>No acceptance run yet.</Empty>;
        return (
          <>
            <p><Badge value={latest.passed ? 'passed' : 'failed'} /> {when(latest.at)} against {latest.profile ?? 'no SKU profile'}
              {before.length > 0 && <span class="muted"> · {before.filter((r) => !r.passed).length} of {before.length} earlier run(s) failed</span>}</p>
            <table data-testid="acceptance-checks" aria-labelledby="acceptance-h"><thead><tr><th>check</th><th>measured</th><th>threshold</th><th>verdict</th></tr></thead>
              <tbody>{[...latest.checks].sort((a, b) => order[a.verdict] - order[b.verdict]).map((c) => (
                <tr><td>{c.name}</td><td class="wrap">{c.measured}</td><td>{c.threshold}</td><td><Badge value={c.verdict} /></td></tr>
              ))}</tbody></table>
          </>
        );
      }}</Loaded>
    </>
  );
}
