// Tenants by name, not UUID: the list is read once a page and looked up by id.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.ts';

/** A function from a tenant id to its name (the id while the list loads, or for a tenant this token may not see). */
export function useTenantNames(): (id: string | null | undefined) => string {
  const [names, setNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    api<{ items: Array<{ id: string; name: string }> }>('/api/v1/tenants')
      .then((list) => setNames(new Map(list.items.map((t) => [t.id, t.name]))))
      .catch(() => undefined);
  }, []);
  return (id) => (id ? names.get(id) ?? id : '—');
}
