// Alerts: firing, pending and resolved, with the cohort and nodes they are
// about; silence one from here. Live.
import { useState } from 'preact/hooks';
import type { AlertList, AlertRuleList } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { go } from '../router.ts';
import { Badge, Empty, Loaded, when } from '../ui.tsx';

type Alert = Static<typeof AlertList>['items'][number];

function SilenceForm({ alert, done }: { alert: Alert; done: () => void }) {
  const [duration, setDuration] = useState('2h');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api('/api/v1/silences', { method: 'POST', body: { matchers: Object.entries(alert.labels).filter(([k]) => k !== 'severity').map(([label, value]) => ({ label, value })), duration, comment } });
      done();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-label={`Silence ${alert.rule}`}>
      <label>for <select value={duration} onChange={(e) => setDuration(e.currentTarget.value)}>{['1h', '2h', '8h', '24h', '7d'].map((d) => <option>{d}</option>)}</select></label>
      <label>why <input value={comment} onInput={(e) => setComment(e.currentTarget.value)} placeholder="ticket, maintenance…" required /></label>
      <button type="submit">Silence</button>
      <button type="button" class="link" onClick={done}>Cancel</button>
      {error && <span class="error" role="alert">{error}</span>}
    </form>
  );
}

export function AlertsPage({ params }: { params: URLSearchParams }) {
  const state = params.get('state') ?? '';
  const alerts = useLiveData(() => api<Static<typeof AlertList>>(`/api/v1/alerts${state ? `?state=${state}` : ''}`), ['alert-changed'], [state]);
  const [silencing, setSilencing] = useState<string | null>(null);
  return (
    <>
      <h1>Alerts</h1>
      <div class="filters">
        <label>State <select value={state} onChange={(e) => go('/alerts', { state: e.currentTarget.value })}>
          <option value="">all</option>{['firing', 'pending', 'resolved'].map((s) => <option value={s}>{s}</option>)}
        </select></label>
      </div>
      <Loaded {...alerts} what="alerts" retry={alerts.reload}>{(list) => list.items.length === 0 ? <Empty>No alerts{state ? ` ${state}` : ''}.</Empty> : (
        <table data-testid="alerts-table">
          <thead><tr><th>state</th><th>severity</th><th>rule</th><th>summary</th><th>nodes</th><th>since</th><th></th></tr></thead>
          <tbody>{list.items.map((a) => (
            <tr class={params.get('fingerprint') === a.fingerprint ? 'selected' : ''}>
              <td><Badge value={a.state} />{a.silencedBy.length > 0 && <span class="muted"> silenced</span>}</td>
              <td><Badge value={a.severity} /></td>
              <td>{a.rule}{a.labels['cohort'] && <div class="muted">{a.labels['by']} <a href={`#/nodes?${a.labels['by'] === 'rack' ? 'rack' : 'q'}=${encodeURIComponent(a.labels['cohort'])}`}>{a.labels['cohort']}</a></div>}</td>
              <td>{a.summary}</td>
              <td>{a.nodes.slice(0, 5).map((id) => <div><a href={`#/nodes?q=${encodeURIComponent(id)}`} class="mono">{id.slice(0, 8)}</a></div>)}{a.nodes.length > 5 && <div class="muted">+{a.nodes.length - 5}</div>}</td>
              <td>{when(a.resolvedAt ?? a.firingSince ?? a.activeSince)}</td>
              <td>{a.state !== 'resolved' && a.silencedBy.length === 0 && (silencing === a.fingerprint
                ? <SilenceForm alert={a} done={() => {
                  setSilencing(null);
                  alerts.reload();
                }} />
                : <button type="button" onClick={() => setSilencing(a.fingerprint)}>Silence…</button>)}</td>
            </tr>
          ))}</tbody>
        </table>
      )}</Loaded>
      <RulesInForce />
    </>
  );
}

/** The rules alerts come from, with where each comes from: an operator should not have to read the rules file to know why nothing fires. */
function RulesInForce() {
  const rules = useLiveData(() => api<Static<typeof AlertRuleList>>('/api/v1/alert-rules'), [], []);
  return (
    <section aria-labelledby="rules-h">
      <h2 id="rules-h">Rules in force</h2>
      <Loaded {...rules} what="alert rules" retry={rules.reload}>{(list) => (
        <table data-testid="rules-table" class="compact">
          <thead><tr><th>rule</th><th>kind</th><th>severity</th><th>when</th><th>source</th></tr></thead>
          <tbody>{list.items.map((r) => {
            const { name, kind, severity, ...rest } = r.spec as Record<string, unknown> & { name: string; kind: string; severity?: string };
            return (
              <tr>
                <td>{name}</td><td>{kind}</td><td><Badge value={severity ?? 'critical'} /></td>
                <td class="muted">{Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(' ')}</td>
                <td>{r.source}</td>
              </tr>
            );
          })}</tbody>
        </table>
      )}</Loaded>
    </section>
  );
}
