// A small typed client for the manager's REST API; errors carry the API's code.
import type { ApiError, NodeDetail, NodeList } from '@metalfleet/api';

export class ApiCallError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiCallError';
    this.status = status;
    this.code = code;
  }
}

export function createApiClient(baseUrl: string, token: string) {
  async function get<T>(path: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, baseUrl), { headers: token === '' ? {} : { authorization: `Bearer ${token}` } });
    } catch (error) {
      throw new ApiCallError(0, 'unavailable', `cannot reach the manager at ${baseUrl}: ${(error as Error).cause ?? (error as Error).message}`);
    }
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const apiError = body as ApiError | null;
      throw new ApiCallError(response.status, apiError?.error?.code ?? 'unknown', apiError?.error?.message ?? `HTTP ${response.status}`);
    }
    return body as T;
  }
  return {
    /** Every node, page by page. */
    async listNodes(): Promise<NodeList> {
      const first = await get<NodeList>('/api/v1/nodes?limit=1000');
      const items = [...first.items];
      while (items.length < first.total) {
        const page = await get<NodeList>(`/api/v1/nodes?limit=1000&offset=${items.length}`);
        if (page.items.length === 0) break;
        items.push(...page.items);
      }
      return { ...first, items, offset: 0, limit: items.length };
    },
    /** Proves the token works (any read will do). */
    check: () => get<NodeList>('/api/v1/nodes?limit=1'),
    getNode: (id: string) => get<NodeDetail>(`/api/v1/nodes/${encodeURIComponent(id)}`),
  };
}
