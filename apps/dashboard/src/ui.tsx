// Small pieces every page uses: honest loading, error and empty states, count
// tiles, badges.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

export function Loading({ what }: { what: string }) {
  return <p class="muted" role="status">Loading {what}…</p>;
}

export function Failed({ error, retry }: { error: string; retry?: () => void }) {
  return (
    <p class="error" role="alert">
      {error} {retry && <button type="button" onClick={retry}>Retry</button>}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted">{children}</p>;
}

/** Renders `body` once data is there; loading and error states before that. */
export function Loaded<T>({ data, error, what, retry, children }: { data: T | null; error: string | null; what: string; retry?: () => void; children: (data: T) => ComponentChildren }) {
  if (error !== null && data === null) return <Failed error={`Could not load ${what}: ${error}`} {...(retry ? { retry } : {})} />;
  if (data === null) return <Loading what={what} />;
  return <>{children(data)}</>;
}

export function Tile({ label, value, tone, href }: { label: string; value: number | string; tone?: string; href?: string }) {
  const body = <><span class="tile-value">{value}</span><span class="tile-label">{label}</span></>;
  return href ? <a class={`tile ${tone ?? ''}`} href={href} data-testid={`tile-${label}`}>{body}</a> : <div class={`tile ${tone ?? ''}`} data-testid={`tile-${label}`}>{body}</div>;
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value}`}>{value}</span>;
}

export const percent = (fraction: number): string => `${(fraction * 100).toFixed(1)}%`;
export const when = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : '—');

/** Escape closes the dialog that calls this, wherever the focus is. */
export function useEscape(close: () => void): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [close]);
}
