// Identity: machines that claim (part of) a known node's identity, re-enrolments
// of wiped disks waiting for approval, and discovered machines waiting to be
// admitted before they may serve. Approve, reject or admit from here. Live.
import { useState } from 'preact/hooks';
import type { AdmissionList, IdentityConflict, IdentityConflictList } from '@metalfleet/api';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { Badge, Empty, Loaded, when } from '../ui.tsx';

type Dialog = { kind: 'approve' | 'reject'; conflict: IdentityConflict } | { kind: 'admit'; nodeId: string } | null;

export function IdentityPage() {
  const conflicts = useLiveData(() => api<IdentityConflictList>('/api/v1/identity-conflicts?status=open'), ['identity-conflict', 'node-registered']);
  const admissions = useLiveData(() => api<AdmissionList>('/api/v1/admissions?state=pending'), ['node-registered', 'enrollment-claimed', 'node-tenant-changed']);
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = () => {
    setDialog(null);
    conflicts.reload();
    admissions.reload();
  };
  return (
    <>
      <h1>Identity</h1>
      <h2>Conflicts and re-enrolments</h2>
      <Loaded {...conflicts} what="identity conflicts" retry={conflicts.reload}>{(list) => list.items.length === 0 ? <Empty>No machine waits for a decision.</Empty> : (
        <table data-testid="conflicts-table">
          <thead><tr><th>#</th><th>kind</th><th>nodes</th><th>presented</th><th>reason</th><th>attempts</th><th>from</th><th>since</th><th></th></tr></thead>
          <tbody>{list.items.map((c) => (
            <tr>
              <td>{c.id}</td>
              <td><Badge value={c.kind} /></td>
              <td>{c.nodeIds.map((id) => <div><a href={`#/nodes/${id}`} class="mono">{id.slice(0, 8)}</a></div>)}</td>
              <td class="mono">{c.identity.systemUuid || '—'}<div class="muted">{[c.identity.systemSerial, c.identity.boardSerial].filter(Boolean).join(' · ')}</div><div class="muted">{c.identity.macs.join(' ')}</div></td>
              <td>{c.reason}</td>
              <td>{c.attempts}</td>
              <td class="mono">{c.lastPeer || '—'}</td>
              <td>{when(c.at)}</td>
              <td>
                {c.kind === 'shared-credential'
                  ? <button type="button" class="link" onClick={() => setDialog({ kind: 'reject', conflict: c })}>Close…</button>
                  : <>
                    <button type="button" onClick={() => setDialog({ kind: 'approve', conflict: c })}>Approve…</button>{' '}
                    <button type="button" class="link" onClick={() => setDialog({ kind: 'reject', conflict: c })}>Reject…</button>
                  </>}
              </td>
            </tr>
          ))}</tbody>
        </table>
      )}</Loaded>
      <h2>Discovered machines waiting for admission</h2>
      <Loaded {...admissions} what="admissions" retry={admissions.reload}>{(list) => list.items.length === 0 ? <Empty>No discovered machine waits.</Empty> : (
        <table data-testid="admissions-table">
          <thead><tr><th>node</th><th>via</th><th>since</th><th></th></tr></thead>
          <tbody>{list.items.map((a) => (
            <tr>
              <td><a href={`#/nodes/${a.nodeId}`} class="mono">{a.nodeId.slice(0, 8)}</a></td>
              <td>{a.via} <span class="muted">{a.actor}</span></td>
              <td>{when(a.at)}</td>
              <td><button type="button" onClick={() => setDialog({ kind: 'admit', nodeId: a.nodeId })}>Admit…</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}</Loaded>
      {dialog?.kind === 'approve' && <ConfirmDialog title={`Approve conflict #${dialog.conflict.id}`} confirmLabel="Approve" close={close}
        run={async () => {
          await api(`/api/v1/identity-conflicts/${dialog.conflict.id}/approve`, { method: 'POST', body: dialog.conflict.nodeIds.length === 1 ? {} : { nodeId: dialog.conflict.nodeIds[0] } });
        }}>The machine is node {dialog.conflict.nodeIds[0]}: its next registration gets that node's id and a fresh credential, and the old credential stops working.
        Approve only a machine you know is that node (a disk you wiped, a board you replaced).</ConfirmDialog>}
      {dialog?.kind === 'reject' && (dialog.conflict.kind === 'shared-credential'
        ? <ConfirmDialog title={`Close conflict #${dialog.conflict.id}`} confirmLabel="Close" close={close}
          run={async () => {
            await api(`/api/v1/identity-conflicts/${dialog.conflict.id}/reject`, { method: 'POST' });
          }}>Close it once the second agent is stopped (or the cloned disk's /var/lib/metalfleet wiped). If two agents still share the credential, a new conflict opens.</ConfirmDialog>
        : <ConfirmDialog title={`Reject conflict #${dialog.conflict.id}`} confirmLabel="Reject" danger close={close}
          run={async () => {
            await api(`/api/v1/identity-conflicts/${dialog.conflict.id}/reject`, { method: 'POST' });
          }}>The machine gets nothing and stays refused; known nodes keep their credentials.</ConfirmDialog>)}
      {dialog?.kind === 'admit' && <ConfirmDialog title={`Admit ${dialog.nodeId.slice(0, 8)}`} confirmLabel="Admit" close={close}
        run={async () => {
          await api(`/api/v1/nodes/${dialog.nodeId}/admit`, { method: 'POST' });
        }}>From now on the node may be picked as a spare and serve tenants. Its hardware claims are its own word until then.</ConfirmDialog>}
    </>
  );
}
