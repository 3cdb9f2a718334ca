// Reimage one node or a selection: pick an image from the catalog, confirm,
// then follow the operation's page.
import { useState } from 'preact/hooks';
import type { ImageList, Operation } from '@metalfleet/api';
import type { Static } from 'typebox';
import { api } from '../api.ts';
import { useLiveData } from '../live.ts';
import { go } from '../router.ts';
import { useEscape } from '../ui.tsx';

export function ReimageDialog({ nodeIds, close }: { nodeIds: string[]; close: () => void }) {
  useEscape(close);
  const images = useLiveData(() => api<Static<typeof ImageList>>('/api/v1/images'), []);
  const [image, setImage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const installable = images.data?.items.filter((i) => i.rootUrl !== '') ?? [];
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const op = await api<Operation>('/api/v1/reimage', { method: 'POST', body: { image, nodeIds, reason: 'reimage from the dashboard' } });
      go(`/operations/${op.id}`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="reimage-title">
      <form onSubmit={submit}>
        <h2 id="reimage-title">Reimage {nodeIds.length} node{nodeIds.length === 1 ? '' : 's'}</h2>
        <p>Their disks are overwritten with the image; tenants lose what runs on them.</p>
        <label>Image <select value={image} onChange={(e) => setImage(e.currentTarget.value)} required autofocus>
          <option value="">choose…</option>
          {installable.map((i) => <option value={`${i.name}@${i.version}`}>{i.name}@{i.version}</option>)}
        </select></label>
        {images.data && installable.length === 0 && <p class="muted">No image with a root image in the catalog.</p>}
        {error && <p class="error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" onClick={close}>Cancel</button>
          <button type="submit" class="danger" disabled={image === ''}>Reimage</button>
        </div>
      </form>
    </div>
  );
}
