// The node table: server-side filters and search, rows rendered only where the
// eye is (virtualized, fetched in pages as they scroll in), multi-select for a
// batch reimage. Stays fast at 10,000 nodes.
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from '@tanstack/virtual-core';
import type { NodeList, NodeSummary } from '@metalfleet/api';
import { api, query } from '../api.ts';
import { useLiveEvents } from '../live.ts';
import { useTenantNames } from '../tenant-names.ts';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { ReimageDialog } from '../components/reimage-dialog.tsx';
import { go } from '../router.ts';
import { Badge, Empty, Failed } from '../ui.tsx';

const pageSize = 500;
const rowHeight = 34;
const filterKeys = ['q', 'state', 'presence', 'health', 'tenant', 'rack', 'gpuModel'] as const;
const choices: Partial<Record<(typeof filterKeys)[number], string[]>> = {
  state: ['discovered', 'inspecting', 'accepting', 'available', 'allocated', 'provisioning', 'active', 'releasing', 'failed', 'repair', 'retired'],
  presence: ['online', 'offline', 'unknown'],
  health: ['ok', 'warning', 'critical'],
};

function useVirtualRows(count: number, scroller: { current: HTMLElement | null }) {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const virtualizer = useMemo(() => new Virtualizer<HTMLElement, HTMLElement>({
    count, getScrollElement: () => scroller.current, estimateSize: () => rowHeight, overscan: 20,
    observeElementRect, observeElementOffset, scrollToFn: elementScroll, onChange: () => rerender(0),
  }), []);
  virtualizer.setOptions({ ...virtualizer.options, count });
  useLayoutEffect(() => virtualizer._didMount(), []);
  useLayoutEffect(() => virtualizer._willUpdate());
  return virtualizer;
}

export function NodesPage({ params }: { params: URLSearchParams }) {
  const tenantName = useTenantNames();
  const filter = Object.fromEntries(filterKeys.map((k) => [k, params.get(k) ?? undefined]));
  const filterKey = JSON.stringify(filter);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const rows = useRef(new Map<number, NodeSummary>());
  const loading = useRef(new Set<number>());
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reimaging, setReimaging] = useState(false);
  const [draining, setDraining] = useState(false);
  const [search, setSearch] = useState(filter['q'] ?? '');
  const scroller = useRef<HTMLDivElement>(null);

  // The filter shown now: an answer for one no longer shown (a slow one, overtaken by the next) is dropped, or it
  // would replace the rows and the count (a flaky browser test caught the count of the filter before).
  const shown = useRef(filterKey);
  shown.current = filterKey;

  const loadPage = async (page: number, fresh = false) => {
    if (loading.current.has(page) && !fresh) return;
    loading.current.add(page);
    const asked = filterKey;
    try {
      const list = await api<NodeList>(`/api/v1/nodes${query({ ...filter, offset: page * pageSize, limit: pageSize })}`);
      if (asked !== shown.current) return;
      if (fresh) rows.current.clear();
      list.items.forEach((n, i) => rows.current.set(page * pageSize + i, n));
      setTotal(list.total);
      setError(null);
      bump(0);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      loading.current.delete(page);
    }
  };

  // A new filter starts over; fleet events reload the pages in view.
  useEffect(() => {
    rows.current.clear();
    setTotal(null);
    setSelected(new Set());
    void loadPage(0, true);
  }, [filterKey]);
  useLiveEvents(['node-registered', 'state-changed', 'presence-changed', 'health-changed', 'node-tenant-changed'], () => {
    const inView = new Set(virtualizer.getVirtualItems().map((v) => Math.floor(v.index / pageSize)));
    for (const page of inView.size > 0 ? inView : [0]) void loadPage(page);
  });

  const virtualizer = useVirtualRows(total ?? 0, scroller);
  const items = virtualizer.getVirtualItems();
  useEffect(() => {
    for (const page of new Set(items.map((v) => Math.floor(v.index / pageSize)))) if (!rows.current.has(page * pageSize)) void loadPage(page);
  }, [items.map((v) => v.index).join(','), version]);

  // From the address as it is now, not as this render saw it: a filter changed right after a search (before the
  // hashchange re-rendered the page) must not bring the old search back (the flaky "1 node instead of 6", again).
  const setFilter = (key: string, value: string) => {
    const now = new URLSearchParams(location.hash.split('?')[1] ?? '');
    go('/nodes', { ...Object.fromEntries(filterKeys.map((k) => [k, now.get(k) ?? undefined])), [key]: value || undefined });
  };
  const toggle = (id: string) => setSelected((s) => {
    const next = new Set(s);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  });

  return (
    <>
      <h1>Nodes {total !== null && <span class="muted" data-testid="node-total">{total}</span>}</h1>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        // What the box holds now, not the state of the last render: an Enter right after typing (a fast user, the browser
        // test) came before the re-render, and searched the text from before (the flaky "1 node instead of 6").
        setFilter('q', String(new FormData(e.currentTarget).get('q') ?? '').trim());
      }}>
        <label>Search <input type="search" name="q" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="id, serial, MAC, rack, tenant, GPU" aria-label="search nodes" /></label>
        {(['state', 'presence', 'health'] as const).map((key) => (
          <label>{key} <select value={filter[key] ?? ''} onChange={(e) => setFilter(key, e.currentTarget.value)} aria-label={`filter by ${key}`}>
            <option value="">any</option>{choices[key]?.map((c) => <option value={c}>{c}</option>)}
          </select></label>
        ))}
        {(['tenant', 'rack', 'gpuModel'] as const).filter((k) => filter[k]).map((k) => <button type="button" class="chip" onClick={() => setFilter(k, '')}>{k}: {filter[k]} ✕</button>)}
        <button type="submit">Search</button>
      </form>
      <div class="toolbar">
        <span>{selected.size} selected</span>
        <button type="button" disabled={selected.size === 0} onClick={() => setReimaging(true)}>Reimage…</button>
        <button type="button" disabled={selected.size === 0} onClick={() => setDraining(true)}>Drain…</button>
        {selected.size > 0 && <button type="button" class="link" onClick={() => setSelected(new Set())}>Clear selection</button>}
      </div>
      {error && <Failed error={`Could not load nodes: ${error}`} retry={() => void loadPage(0, true)} />}
      {total === 0 && <Empty>No node matches.</Empty>}
      <div class="grid-head" role="row">
        <span /><span>hostname</span><span>state</span><span>presence</span><span>health</span><span>tenant</span><span>rack</span><span>GPUs</span><span>id</span>
      </div>
      <div ref={scroller} class="grid" role="grid" aria-rowcount={total ?? 0} aria-label="nodes" data-testid="node-grid">
        <div style={{ height: `${virtualizer.getTotalSize()}px`, position: 'relative' }}>
          {items.map((v) => {
            const n = rows.current.get(v.index);
            return (
              <div role="row" class="grid-row" key={v.key} style={{ transform: `translateY(${v.start}px)`, height: `${rowHeight}px` }} aria-rowindex={v.index + 1}>
                {n ? <>
                  <span><input type="checkbox" checked={selected.has(n.id)} onChange={() => toggle(n.id)} aria-label={`select ${n.hostname}`} /></span>
                  <span title={n.hostname}><a href={`#/nodes/${n.id}`}>{n.hostname}</a></span><span><Badge value={n.state} /></span><span><Badge value={n.presence} /></span>
                  <span><Badge value={n.health.severity} /></span><span title={n.tenant ?? ''}>{tenantName(n.tenant)}</span><span>{n.rack || '—'}</span>
                  <span>{n.gpuCount} × {n.gpuModel || '—'}</span><span class="mono" title={n.id}>{n.id.slice(0, 8)}</span>
                </> : <span class="muted">loading…</span>}
              </div>
            );
          })}
        </div>
      </div>
      {reimaging && <ReimageDialog nodeIds={[...selected]} close={() => setReimaging(false)} />}
      {draining && <ConfirmDialog title={`Drain ${selected.size} node${selected.size === 1 ? '' : 's'}`} confirmLabel="Drain" askReason close={() => setDraining(false)}
        run={async (reason) => {
          const failed: string[] = [];
          for (const id of selected) await api(`/api/v1/nodes/${id}/drain`, { method: 'POST', body: { reason } }).catch((e: unknown) => failed.push(`${id.slice(0, 8)}: ${e instanceof Error ? e.message : String(e)}`));
          return failed.length === 0 ? `${selected.size} drained.` : `${selected.size - failed.length} drained; not: ${failed.join('; ')}`;
        }}>Asks the workload scheduler (the drain hook) to stop placing work on each and waits for their jobs.</ConfirmDialog>}
    </>
  );
}
