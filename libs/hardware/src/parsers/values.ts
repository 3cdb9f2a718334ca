// nvidia-smi values carry units and sentinels. A sentinel is "unknown" (null),
// never 0: `N/A`, `[Not Supported]`, `Unknown Error`, `[GPU requires reset]`, …

const sentinel = /^\[?(n\/a|not supported|unknown error|gpu requires reset|requested functionality has been deprecated|insufficient permissions|unknown)\]?$/i;

export function text(value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return null;
  const v = value.trim();
  return v === '' || sentinel.test(v) ? null : v;
}

/** `41 C`, `69.85 W`, `81559 MiB`, `16x`, `0 us`, `64 bank(s)`, `0x1F` → number; sentinels → null. */
export function number(value: unknown): number | null {
  const v = text(value);
  if (v === null) return null;
  if (/^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v, 16);
  const m = /^(-?\d+(?:\.\d+)?)\s*(?:x|%|[a-zA-Z/()]+(?:\s*[a-zA-Z/()]+)?)?$/.exec(v);
  return m?.[1] !== undefined ? Number(m[1]) : null;
}

export function yesNo(value: unknown): boolean | null {
  const v = text(value)?.toLowerCase();
  if (v === 'yes' || v === 'active' || v === 'enabled' || v === 'true') return true;
  if (v === 'no' || v === 'not active' || v === 'disabled' || v === 'false') return false;
  return null;
}

/** Sum of the known parts; null when every part is unknown. */
export function sumKnown(...parts: Array<number | null>): number | null {
  const known = parts.filter((p): p is number => p !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}
