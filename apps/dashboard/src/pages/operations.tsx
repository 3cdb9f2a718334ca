// Operations: reimage batches, template rollouts and replacements, newest
// first, running ones live.
import type { OperationList } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { Badge, Empty, Loaded, when } from '../ui.tsx';

export function OperationsPage() {
  const list = useLiveData(() => api<Static<typeof OperationList>>('/api/v1/operations'), ['operation-created', 'operation-finished']);
  return (
    <>
      <h1>Operations</h1>
      <Loaded {...list} what="operations" retry={list.reload}>{(l) => l.items.length === 0 ? <Empty>No operation yet: reimage nodes or apply a template.</Empty> : (
        <table>
          <thead><tr><th>created</th><th>kind</th><th>image</th><th>state</th><th>by</th><th>why</th></tr></thead>
          <tbody>{l.items.map((o) => <tr><td>{when(o.createdAt)}</td><td><a href={`#/operations/${o.id}`}>{o.kind}</a></td><td>{o.image}</td><td><Badge value={o.state} /></td><td>{o.actor}</td><td>{o.reason}</td></tr>)}</tbody>
        </table>
      )}</Loaded>
    </>
  );
}
