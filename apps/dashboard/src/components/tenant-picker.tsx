// Allocate an available node to a tenant: pick the tenant, confirm.
import { useState } from 'preact/hooks';
import type { Tenant } from '@metalfleet/api';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { useEscape } from '../ui.tsx';

export function TenantPicker({ nodeId, close }: { nodeId: string; close: () => void }) {
  useEscape(close);
  const tenants = useLiveData(() => api<{ items: Tenant[] }>('/api/v1/tenants'), []);
  const [tenant, setTenant] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api(`/api/v1/tenants/${tenant}/nodes`, { method: 'POST', body: { nodeId } });
      close();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-label="Allocate to a tenant">
      <form onSubmit={submit}>
        <h2>Allocate to a tenant</h2>
        <label>Tenant <select value={tenant} onChange={(e) => setTenant(e.currentTarget.value)} required>
          <option value="">choose…</option>
          {tenants.data?.items.map((t) => <option value={t.id}>{t.name} (VLAN {t.vlan})</option>)}
        </select></label>
        <p class="muted">The node joins the tenant's network once it is reimaged into it.</p>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="actions"><button type="button" onClick={close}>Cancel</button><button type="submit" disabled={tenant === ''}>Allocate</button></div>
      </form>
    </div>
  );
}
