// Tenants: each one's network (VLAN, VNI), nodes and switch ports with drift;
// release a node, apply the tenant's cluster template. Live.
import { useState } from 'preact/hooks';
import type { Operation, Template, TenantList } from '@metalfleet/api';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { go } from '../router.ts';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { Badge, Empty, Loaded } from '../ui.tsx';

type Dialog = { kind: 'release'; tenant: string; nodeId: string; hostname: string } | { kind: 'apply'; template: Template } | null;

export function TenantsPage() {
  const tenants = useLiveData(() => api<TenantList>('/api/v1/tenants'), ['tenant-created', 'tenant-deleted', 'node-tenant-changed', 'state-changed', 'port-configured', 'port-drift-repaired']);
  const templates = useLiveData(() => api<{ items: Template[] }>('/api/v1/templates'), ['tenant-created']);
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = () => setDialog(null);
  return (
    <>
      <h1>Tenants</h1>
      <Loaded {...tenants} what="tenants" retry={tenants.reload}>{(list) => list.items.length === 0 ? <Empty>No tenant yet: <code>metalfleet tenants create &lt;name&gt;</code>.</Empty> : (
        <>{list.items.map((t) => {
          const template = templates.data?.items.find((x) => x.tenantId === t.id);
          const drifting = t.ports.filter((p) => p.drift);
          return (
            <section class="tenant" aria-label={`tenant ${t.name}`}>
              <h2>{t.name} <span class="muted">VLAN {t.vlan} · VNI {t.vni} · {t.nodes.length} nodes{drifting.length > 0 && <> · <span class="error">{drifting.length} ports drifting</span></>}</span></h2>
              {template && <p>Template <strong>{template.name}</strong>: {template.nodeCount} × {template.gpuCount} {template.gpuModel} with {template.image}{' '}
                <button type="button" onClick={() => setDialog({ kind: 'apply', template })}>Apply…</button></p>}
              {t.nodes.length === 0 ? <Empty>No node allocated.</Empty> : (
                <table><thead><tr><th>node</th><th>state</th><th>switch port</th><th>VLAN (want / has)</th><th></th></tr></thead>
                  <tbody>{t.nodes.map((n) => {
                    const port = t.ports.find((p) => p.nodeId === n.id);
                    return <tr><td><a href={`#/nodes/${n.id}`}>{n.hostname}</a></td><td><Badge value={n.state} /></td><td>{port ? `${port.switchName} ${port.port}` : '—'}</td>
                      <td>{port ? <>{port.desiredVlan} / {port.actualVlan ?? '—'} {port.drift && <Badge value="drift" />}</> : '—'}</td>
                      <td><button type="button" class="link" onClick={() => setDialog({ kind: 'release', tenant: t.id, nodeId: n.id, hostname: n.hostname })}>Release…</button></td></tr>;
                  })}</tbody></table>
              )}
            </section>
          );
        })}</>
      )}</Loaded>
      {dialog?.kind === 'release' && <ConfirmDialog title={`Release ${dialog.hostname}`} confirmLabel="Release" danger close={close}
        run={async () => {
          await api(`/api/v1/tenants/${dialog.tenant}/nodes/${dialog.nodeId}`, { method: 'DELETE' });
        }}>The node leaves the tenant's network and is wiped before it serves again.</ConfirmDialog>}
      {dialog?.kind === 'apply' && <ConfirmDialog title={`Apply ${dialog.template.name}`} confirmLabel="Apply" close={close}
        run={async () => {
          const result = await api<{ operation: Operation | null; already: number }>(`/api/v1/templates/${dialog.template.id}/apply`, { method: 'POST' });
          if (result.operation) go(`/operations/${result.operation.id}`);
          else return `The tenant already has its ${result.already} nodes.`;
        }}>Tops the tenant up to {dialog.template.nodeCount} nodes: matching spares are allocated and reimaged with {dialog.template.image}.</ConfirmDialog>}
    </>
  );
}
