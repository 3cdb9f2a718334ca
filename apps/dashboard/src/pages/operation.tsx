// One operation (a reimage batch, a template rollout, a replacement) with live
// progress and each node's phase.
import type { Operation } from '@metalfleet/api';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { Badge, Loaded } from '../ui.tsx';
import { useTenantNames } from '../tenant-names.ts';

export function OperationPage({ id }: { id: string }) {
  const tenantName = useTenantNames();
  const op = useLiveData(() => api<Operation>(`/api/v1/operations/${encodeURIComponent(id)}`), ['operation-progress', 'operation-finished'], [id]);
  return (
    <Loaded {...op} what={`operation ${id}`} retry={op.reload}>{(o) => {
      const p = o.progress;
      const finished = p.done + p.failed;
      return (
        <>
          <h1>{o.kind} {o.image} <Badge value={o.state} /></h1>
          <p>{o.actor}: {o.reason}</p>
          <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={p.total} aria-valuenow={finished} aria-label="nodes finished">
            <div class="done" style={{ width: `${(100 * p.done) / Math.max(1, p.total)}%` }} />
            <div class="failed" style={{ width: `${(100 * p.failed) / Math.max(1, p.total)}%` }} />
          </div>
          <p data-testid="operation-progress">{p.done} done, {p.failed} failed, {p.inFlight} in flight, {p.queued} queued of {p.total}</p>
          <table>
            <thead><tr><th>node</th><th>rack</th><th>tenant</th><th>phase</th><th>failure</th><th>message</th></tr></thead>
            <tbody>{o.nodes.map((n) => (
              <tr>
                <td title={n.nodeId}><a href={`#/nodes/${n.nodeId}`}>{n.hostname || n.nodeId.slice(0, 8)}</a></td><td>{n.rack}</td><td>{tenantName(n.tenant)}</td><td><Badge value={n.phase} /></td>
                <td>{n.failure ? <><span class="mono">{n.failure.code}</span> in {n.failure.phase}</> : '—'}</td>
                <td>{n.failure ? n.failure.details : n.message}</td>
              </tr>
            ))}</tbody>
          </table>
        </>
      );
    }}</Loaded>
  );
}
