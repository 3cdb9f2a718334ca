// What an operator types for a node or a tenant: its id, a unique prefix of
// its id (the dashboard shows 8 characters), or its name (a node's hostname, a
// tenant's name). One match is the thing; none is "not found"; several (a
// name and another's id prefix included) are an error that lists them, and
// nothing is sent.
import type { ApiClient } from './api-client.ts';
import { UsageError } from './context.ts';

/** Shorter prefixes than this are never taken for an id: `nodes retire 7` must not hit whichever node starts with 7. */
export const minIdPrefix = 4;

/** How a node argument is described in --help. */
export const nodeArg = `node id, unique id prefix (${minIdPrefix} or more characters) or hostname`;
export const tenantArg = `tenant name, id or unique id prefix (${minIdPrefix} or more characters)`;

export interface Named { id: string; name: string; detail?: string }

export type Resolution = { kind: 'one'; id: string } | { kind: 'none' } | { kind: 'ambiguous'; matches: Named[] };

/**
 * The one thing `ref` names among `items`: an exact id, else the one whose name is `ref` or whose id starts with it.
 * A name and an id prefix naming different things is ambiguous, never one over the other: a tenant chooses its node's
 * hostname (`8f3a9c1b`, another node's short id), not its id.
 */
export function resolveAmong(ref: string, items: readonly Named[]): Resolution {
  const wanted = ref.trim();
  const lower = wanted.toLowerCase();
  const byId = items.find((i) => i.id.toLowerCase() === lower);
  if (byId) return { kind: 'one', id: byId.id };
  const matches = items.filter((i) => i.name === wanted || (lower.length >= minIdPrefix && i.id.toLowerCase().startsWith(lower)));
  if (matches.length === 1) return { kind: 'one', id: matches[0]!.id };
  if (matches.length > 1) return { kind: 'ambiguous', matches };
  return { kind: 'none' };
}

export class NotFoundError extends Error {}

function settle(what: string, ref: string, resolution: Resolution): string {
  if (resolution.kind === 'one') return resolution.id;
  if (resolution.kind === 'none') {
    throw new NotFoundError(`no ${what} ${JSON.stringify(ref)} (by id, a unique id prefix of ${minIdPrefix} or more characters, or ${what === 'node' ? 'hostname' : 'name'})`);
  }
  const list = resolution.matches.slice(0, 10).map((m) => `  ${m.id}  ${m.name}${m.detail ? `  ${m.detail}` : ''}`);
  const more = resolution.matches.length > 10 ? [`  … and ${resolution.matches.length - 10} more`] : [];
  throw new UsageError([`${JSON.stringify(ref)} names ${resolution.matches.length} ${what}s; give one of their ids:`, ...list, ...more].join('\n'));
}

/** A node's id from its id, id prefix or hostname, among the nodes this token may see. */
export async function resolveNode(client: ApiClient, ref: string): Promise<string> {
  if (ref.trim() === '') throw new UsageError('a node id, id prefix or hostname is needed');
  const list = await client.listNodes(`&q=${encodeURIComponent(ref.trim())}`);
  return settle('node', ref, resolveAmong(ref, list.items.map((n) => ({ id: n.id, name: n.hostname, detail: n.state }))));
}

export async function resolveNodes(client: ApiClient, refs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) ids.push(await resolveNode(client, ref));
  return ids;
}

export interface TenantNames { items: Array<{ id: string; name: string }> }

/** A tenant's id from its id, id prefix or name. */
export async function resolveTenant(client: ApiClient, ref: string): Promise<string> {
  if (ref.trim() === '') throw new UsageError('a tenant id, id prefix or name is needed');
  const list = await client.get<TenantNames>('/api/v1/tenants');
  return settle('tenant', ref, resolveAmong(ref, list.items));
}

/** Tenant ids to names, for tables that would otherwise show a UUID. */
export async function tenantNames(client: ApiClient): Promise<(id: string | null | undefined) => string> {
  const list = await client.get<TenantNames>('/api/v1/tenants');
  const names = new Map(list.items.map((t) => [t.id, t.name]));
  return (id) => (id === null || id === undefined || id === '' ? '-' : names.get(id) ?? id);
}
