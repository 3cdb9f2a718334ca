// The fleet at a glance: nodes by state, presence and health, the cohorts
// that fail most, firing alerts and operations in flight. Live.
import type { AlertList, FailureRates, FailureTrend, FleetSummary, OperationList } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { TrendChart } from '../components/trend-chart.tsx';
import { Empty, Loaded, Tile, percent } from '../ui.tsx';

type Alerts = Static<typeof AlertList>;
type Rates = Static<typeof FailureRates>;
type Operations = Static<typeof OperationList>;
type Trend = Static<typeof FailureTrend>;

const stateTones: Record<string, string> = { active: 'good', available: 'good', failed: 'bad', repair: 'warn', provisioning: 'busy' };
const nodeEvents = ['node-registered', 'state-changed', 'presence-changed', 'health-changed', 'node-tenant-changed'];

export function OverviewPage() {
  const summary = useLiveData(() => api<FleetSummary>('/api/v1/summary'), nodeEvents);
  const alerts = useLiveData(() => api<Alerts>('/api/v1/alerts?state=firing'), ['alert-changed']);
  const operations = useLiveData(() => api<Operations>('/api/v1/operations'), ['operation-created', 'operation-finished', 'operation-progress']);
  const racks = useLiveData(() => api<Rates>('/api/v1/failure-rates?window=24h&by=rack'), ['failure-recorded']);
  const trend = useLiveData(() => api<Trend>('/api/v1/failure-trend?days=30'), ['failure-recorded']);
  const fleet = useLiveData(async () => Promise.all(['1h', '24h', '7d', '30d'].map((w) => api<Rates>(`/api/v1/failure-rates?window=${w}&by=fleet`))), ['failure-recorded']);
  return (
    <>
      <h1>Overview</h1>
      <Loaded {...summary} what="the fleet" retry={summary.reload}>{(s) => (
        <section aria-label="Nodes">
          <div class="tiles">
            <Tile label="nodes" value={s.total} href="#/nodes" />
            <Tile label="online" value={s.byPresence.online} tone="good" href="#/nodes?presence=online" />
            <Tile label="offline" value={s.byPresence.offline} tone={s.byPresence.offline > 0 ? 'bad' : ''} href="#/nodes?presence=offline" />
            <Tile label="critical" value={s.byHealth.critical} tone={s.byHealth.critical > 0 ? 'bad' : ''} href="#/nodes?health=critical" />
            <Tile label="warning" value={s.byHealth.warning} tone={s.byHealth.warning > 0 ? 'warn' : ''} href="#/nodes?health=warning" />
          </div>
          <div class="tiles small">
            {Object.entries(s.byState).filter(([state, n]) => n > 0 || ['active', 'available', 'failed'].includes(state)).map(([state, n]) =>
              <Tile label={state} value={n} tone={n > 0 ? stateTones[state] ?? '' : ''} href={`#/nodes?state=${state}`} />)}
          </div>
        </section>
      )}</Loaded>
      <div class="columns">
        <section aria-labelledby="alerts-h">
          <h2 id="alerts-h">Firing alerts</h2>
          <Loaded {...alerts} what="alerts">{(a) => a.items.length === 0 ? <Empty>Nothing firing.</Empty> : (
            <ul class="alerts" data-testid="firing-alerts">
              {a.items.map((alert) => <li class={`sev-${alert.severity}`}><a href={`#/alerts?fingerprint=${encodeURIComponent(alert.fingerprint)}`}><strong>{alert.rule}</strong></a> {alert.summary}</li>)}
            </ul>
          )}</Loaded>
          <h2>Operations in flight</h2>
          <Loaded {...operations} what="operations">{(o) => {
            const running = o.items.filter((op) => op.state === 'running');
            return running.length === 0 ? <Empty>No operation running.</Empty> : (
              <ul data-testid="running-operations">{running.map((op) => <li><a href={`#/operations/${op.id}`}>{op.kind} {op.image}</a> <span class="muted">{op.actor}: {op.reason}</span></li>)}</ul>
            );
          }}</Loaded>
        </section>
        <section aria-labelledby="rates-h">
          <h2 id="rates-h">Failure rate</h2>
          <Loaded {...trend} what="the failure trend">{(t) => <TrendChart points={t.items} />}</Loaded>
          <Loaded {...fleet} what="failure rates">{(windows) => (
            <table class="compact"><thead><tr><th>window</th><th>failed nodes</th><th>rate</th></tr></thead>
              <tbody>{windows.map((w) => <tr><td>{w.window}</td><td>{w.items[0]?.failedNodes ?? 0} of {w.items[0]?.nodes ?? 0}</td><td>{percent(w.items[0]?.rate ?? 0)}</td></tr>)}</tbody>
            </table>
          )}</Loaded>
          <h2>Racks that stand out (24 h)</h2>
          <Loaded {...racks} what="rack failure rates">{(r) => {
            const failing = r.items.filter((c) => c.failedNodes > 0).slice(0, 5);
            return failing.length === 0 ? <Empty>No rack had a failure in 24 h.</Empty> : (
              <table class="compact"><thead><tr><th>rack</th><th>failed</th><th>rate</th><th>MTBF</th></tr></thead>
                <tbody>{failing.map((c) => <tr><td><a href={`#/nodes?rack=${encodeURIComponent(c.cohort)}`}>{c.cohort}</a></td><td>{c.failedNodes} of {c.nodes}</td><td>{percent(c.rate)}</td><td>{c.mtbfHours === null ? '—' : `${c.mtbfHours.toFixed(0)} h`}</td></tr>)}</tbody>
              </table>
            );
          }}</Loaded>
        </section>
      </div>
    </>
  );
}
