// The REST API as the dashboard calls it: the token from the login page, JSON
// in and out, errors with the API's stable code and message.
const tokenKey = 'metalfleet.token';

export const session = {
  token: (): string | null => localStorage.getItem(tokenKey),
  set: (token: string): void => localStorage.setItem(tokenKey, token),
  clear: (): void => localStorage.removeItem(tokenKey),
};

export class ApiCallError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the token is refused (the app shows the login again). */
const unauthorized = new Set<() => void>();
export const onUnauthorized = (listener: () => void): (() => boolean) => {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
};

/** The token no longer works: the login page comes back. */
export function tokenRefused(): void {
  for (const listener of unauthorized) listener();
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const token = init.token ?? session.token() ?? '';
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!response.ok) {
    if (response.status === 401 && init.token === undefined) tokenRefused();
    throw new ApiCallError(response.status, payload?.error?.code ?? 'unknown', payload?.error?.message ?? `HTTP ${response.status}`);
  }
  return payload as T;
}

/** "?a=1&b=x" from the defined values only. */
export function query(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}
