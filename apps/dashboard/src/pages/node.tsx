// One node: what it is (GPUs with serials and VBIOS, NICs with their switch
// ports), how it is (conditions and what fixes them), what happened to it
// (lifecycle history, commands), its GPUs' telemetry, and the actions that fix it.
import { useState } from 'preact/hooks';
import type { NodeActionResult, NodeCommandList, NodeDetail, TelemetrySeries } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { go } from '../router.ts';
import { AcceptancePanel } from '../components/acceptance-panel.tsx';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { GpuChart } from '../components/gpu-chart.tsx';
import { ReimageDialog } from '../components/reimage-dialog.tsx';
import { TenantPicker } from '../components/tenant-picker.tsx';
import { useTenantNames } from '../tenant-names.ts';
import { Badge, Empty, Loaded, when } from '../ui.tsx';

const metrics = [
  { metric: 'temperature_c', label: 'GPU temperature', unit: '°C' },
  { metric: 'power_w', label: 'GPU power', unit: 'W' },
  { metric: 'utilization_percent', label: 'GPU utilisation', unit: '%' },
  { metric: 'ecc_volatile_uncorrected', label: 'Uncorrected ECC errors', unit: 'errors' },
] as const;
type Action = NodeDetail['actions'][number] | null;

/** The ways out of failed and repair: one dialog each, what it does, and whether it asks for a ticket. */
const lifecycleActions = {
  retry: { label: 'Retry', says: 'Inspects the node again (it left its tenant when it failed): it rejoins the pool when healthy.', ticket: false },
  repair: { label: 'Send to repair', says: 'Keeps the node out of the pool until it is marked repaired.', ticket: true },
  repaired: { label: 'Mark repaired', says: 'Say what was done (parts swapped, firmware): the node is inspected again before it serves.', ticket: true },
  retire: { label: 'Retire', says: 'Takes the node off every tenant network and powers it off, for good.', ticket: false },
} as const;
const isLifecycleAction = (a: Action): a is keyof typeof lifecycleActions => a !== null && a in lifecycleActions;
const nodeEvents = ['state-changed', 'presence-changed', 'health-changed', 'node-tenant-changed', 'command-progress', 'command-sent'];

function Telemetry({ node }: { node: NodeDetail }) {
  const [metric, setMetric] = useState<(typeof metrics)[number]>(metrics[0]);
  const [range, setRange] = useState<'1h' | '24h'>('1h');
  const gpus = node.inventory.gpus.map((g) => g.index);
  const series = useLiveData(() => Promise.all(gpus.map((gpu) => api<TelemetrySeries>(`/api/v1/nodes/${node.id}/telemetry?metric=${metric.metric}&gpu=${gpu}&range=${range}`))), [], [metric.metric, range, gpus.join(',')]);
  return (
    <section aria-labelledby="telemetry-h">
      <h2 id="telemetry-h">Telemetry</h2>
      <div class="filters">
        <label>Metric <select value={metric.metric} onChange={(e) => setMetric(metrics.find((m) => m.metric === e.currentTarget.value) ?? metrics[0])}>{metrics.map((m) => <option value={m.metric}>{m.label}</option>)}</select></label>
        <label>Range <select value={range} onChange={(e) => setRange(e.currentTarget.value === '24h' ? '24h' : '1h')}><option value="1h">last hour</option><option value="24h">last day</option></select></label>
      </div>
      {gpus.length === 0 ? <Empty>No GPU in the inventory.</Empty> : (
        <Loaded {...series} what="telemetry">{(s) => (s.every((x) => x.points.length === 0) ? <Empty>No samples in this range yet.</Empty> : <GpuChart series={s} unit={metric.unit} label={metric.label} />)}</Loaded>
      )}
    </section>
  );
}

export function NodePage({ id }: { id: string }) {
  const tenantName = useTenantNames();
  const node = useLiveData(() => api<NodeDetail>(`/api/v1/nodes/${encodeURIComponent(id)}`), nodeEvents, [id]);
  const commands = useLiveData(() => api<Static<typeof NodeCommandList>>(`/api/v1/nodes/${encodeURIComponent(id)}/commands`), ['command-sent', 'command-progress', 'command-expired'], [id]);
  const [action, setAction] = useState<Action>(null);
  const close = () => setAction(null);
  return (
    <Loaded {...node} what={`node ${id}`} retry={node.reload}>{(n) => (
      <>
        <h1>{n.hostname} <Badge value={n.state} /> <Badge value={n.presence} /> <Badge value={n.health.severity} /></h1>
        <p class="muted mono">{n.id} · rack {n.rack || '—'} · tenant {tenantName(n.tenant)} · agent {n.agentVersion} · last seen {when(n.lastSeenAt)}</p>
        <div class="toolbar" role="toolbar" aria-label="node actions">
          {/* Only what the node's state allows (the API's list): no button that would then fail. A replica of an older
              version gives no list (a rolling upgrade): no button until a newer one answers. */}
          {(n.actions ?? []).includes('reimage') && <button type="button" onClick={() => setAction('reimage')}>Reimage…</button>}
          {(n.actions ?? []).includes('replace') && <button type="button" onClick={() => setAction('replace')}>Replace…</button>}
          {(n.actions ?? []).includes('drain') && <button type="button" onClick={() => setAction('drain')}>Drain…</button>}
          {(n.actions ?? []).includes('power-cycle') && <button type="button" onClick={() => setAction('power-cycle')}>Power cycle…</button>}
          {(n.actions ?? []).includes('allocate') && <button type="button" onClick={() => setAction('allocate')}>Allocate to a tenant…</button>}
          {(n.actions ?? []).includes('release') && <button type="button" onClick={() => setAction('release')}>Release from tenant…</button>}
          {(Object.keys(lifecycleActions) as Array<keyof typeof lifecycleActions>).filter((a) => (n.actions ?? []).includes(a)).map((a) => (
            <button type="button" class={a === 'retire' ? 'danger' : ''} onClick={() => setAction(a)}>{lifecycleActions[a].label}…</button>
          ))}
          {n.actions?.length === 0 && <span class="muted">Retired: nothing more can be done to this node.</span>}
        </div>
        {action === 'reimage' && <ReimageDialog nodeIds={[n.id]} close={close} />}
        {action === 'replace' && <ConfirmDialog title={`Replace ${n.hostname}`} confirmLabel="Replace" danger askReason close={close}
          run={async (reason) => {
            const result = await api<{ outcome: string; operationId: string | null }>(`/api/v1/nodes/${n.id}/replace`, { method: 'POST', body: { reason } });
            if (result.operationId) go(`/operations/${result.operationId}`);
            else return result.outcome;
          }}>
          Drains it, fails it into repair, and reimages a matching spare into tenant {tenantName(n.tenant)}.</ConfirmDialog>}
        {action === 'drain' && <ConfirmDialog title={`Drain ${n.hostname}`} confirmLabel="Drain" askReason close={close}
          run={async (reason) => {
            await api(`/api/v1/nodes/${n.id}/drain`, { method: 'POST', body: { reason } });
            return 'Drained: the workload scheduler places no more work here.';
          }}>Asks the workload scheduler (the drain hook) to stop placing work here and waits for the jobs.</ConfirmDialog>}
        {action === 'power-cycle' && <ConfirmDialog title={`Power cycle ${n.hostname}`} confirmLabel="Power cycle" danger close={close}
          run={async () => {
            await api(`/api/v1/nodes/${n.id}/power`, { method: 'POST', body: { action: 'cycle' } });
            return 'Power cycled through the BMC.';
          }}>Cuts and restores power through the node's BMC; whatever runs there stops.</ConfirmDialog>}
        {action === 'allocate' && <TenantPicker nodeId={n.id} close={close} />}
        {isLifecycleAction(action) && <ConfirmDialog title={`${lifecycleActions[action].label} ${n.hostname}`} confirmLabel={lifecycleActions[action].label}
          danger={action === 'retire'} askReason askTicket={lifecycleActions[action].ticket} close={close}
          run={async (reason, ticket) => {
            const result = await api<NodeActionResult>(`/api/v1/nodes/${n.id}/${action}`, { method: 'POST', body: { reason, ...(ticket ? { ticket } : {}) } });
            return `${result.from} → ${result.to}`;
          }}>{lifecycleActions[action].says}</ConfirmDialog>}
        {action === 'release' && <ConfirmDialog title={`Release ${n.hostname}`} confirmLabel="Release" danger close={close}
          run={async () => {
            await api(`/api/v1/tenants/${n.tenant ?? ''}/nodes/${n.id}`, { method: 'DELETE' });
          }}>Takes the node out of tenant {tenantName(n.tenant)}: its port leaves the tenant's network and it is wiped before it serves again.</ConfirmDialog>}

        <div class="columns">
          <section aria-labelledby="health-h">
            <h2 id="health-h">Health</h2>
            {n.conditions.length === 0 ? <Empty>No condition: healthy.</Empty> : (
              <table data-testid="conditions"><thead><tr><th>severity</th><th>component</th><th>condition</th><th>remedy</th><th>since</th></tr></thead>
                <tbody>{n.conditions.map((c) => <tr><td><Badge value={c.severity} /></td><td class="mono">{c.component}</td><td>{c.code}: {c.message}</td><td>{c.remediation}</td><td>{when(c.since)}</td></tr>)}</tbody></table>
            )}
            <AcceptancePanel nodeId={n.id} />
            <h2>History</h2>
            <table><thead><tr><th>when</th><th>move</th><th>by</th><th>why</th></tr></thead>
              <tbody>{[...n.history].reverse().slice(0, 30).map((h) => <tr><td>{when(h.at)}</td><td>{h.from} → {h.to}</td><td>{h.actor}</td><td>{h.reason}</td></tr>)}</tbody></table>
            <h2>Commands</h2>
            <Loaded {...commands} what="commands">{(list) => list.items.length === 0 ? <Empty>No command sent to this node.</Empty> : (
              <table><thead><tr><th>when</th><th>command</th><th>state</th><th>result</th></tr></thead>
                <tbody>{list.items.map((c) => <tr><td>{when(c.createdAt)}</td><td>{c.kind}{c.operationId && <> (<a href={`#/operations/${c.operationId}`}>operation</a>)</>}</td><td><Badge value={c.state} /></td><td>{c.message}</td></tr>)}</tbody></table>
            )}</Loaded>
          </section>
          <section aria-labelledby="inventory-h">
            <h2 id="inventory-h">GPUs</h2>
            <table data-testid="gpus"><thead><tr><th>#</th><th>model</th><th>serial</th><th>VBIOS</th><th>driver</th><th>PCI</th></tr></thead>
              <tbody>{n.inventory.gpus.map((g) => <tr><td>{g.index}</td><td>{g.model}</td><td class="mono">{g.serial}</td><td class="mono">{g.vbiosVersion}</td><td>{g.driverVersion}</td><td class="mono">{g.pciBusId}</td></tr>)}</tbody></table>
            <h2>Network</h2>
            <table><thead><tr><th>NIC</th><th>MAC</th><th>speed</th><th>link</th><th>switch port</th></tr></thead>
              <tbody>{n.inventory.nics.filter((x) => x.physical).map((x) => <tr><td>{x.name}</td><td class="mono">{x.mac}</td><td>{x.speedMbps / 1000} Gb/s</td><td><Badge value={x.linkUp ? 'up' : 'down'} /></td><td>{x.neighbor ? `${x.neighbor.switchName} ${x.neighbor.portId}` : '—'}</td></tr>)}</tbody></table>
            <h2>System</h2>
            <p>{n.inventory.system.vendor} {n.inventory.system.model}, BIOS {n.inventory.system.biosVersion}, BMC {n.inventory.system.bmcFirmwareVersion || '—'};
              {' '}{n.inventory.cpus.length} × {n.inventory.cpus[0]?.model ?? 'CPU'}, {(n.inventory.memory.totalBytes / 2 ** 30).toFixed(0)} GiB;
              {' '}{n.inventory.disks.length} disks; {n.inventory.os.distro} {n.inventory.os.release}, kernel {n.inventory.os.kernel}</p>
          </section>
        </div>
        <Telemetry node={n} />
      </>
    )}</Loaded>
  );
}
