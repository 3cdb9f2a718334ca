// What the tests of replacements owed share: a tenant of a given size on the
// fleet harness, the retry as a replica runs it (with faults put in), and what
// the tenant would notice (its serving nodes, the replacement reimages).
import { startFleet } from '../fleet-harness.test-kit.ts';
import { createOwedReplacements, owedClaimStaleMs } from './owed-replacements.ts';

export const t0 = new Date('2026-11-21T10:00:00Z');
/** A clock `k` claim lifetimes on: a placer's claim made at t0 is stale there. */
export const staleAfter = (k = 1) => () => new Date(t0.getTime() + k * (owedClaimStaleMs + 1));
export type Fleet = Awaited<ReturnType<typeof startFleet>>;
const profile = { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 };

/** A tenant whose template is `size` nodes, each active in it: `<prefix>n1`, `<prefix>n2`, … */
export async function tenantOf(f: Fleet, size: number, options: { name?: string; image?: { name: string; version: string }; nodePrefix?: string } = {}) {
  const { name = 'training', image = { name: 'gpu-os', version: '1' }, nodePrefix = '' } = options;
  const tenant = await f.tenants.create(name);
  await f.templates.create({ name: `t-${name}`, image, tenantId: tenant.id, nodeCount: size, profile });
  for (let i = 1; i <= size; i += 1) {
    await f.addNode(`${nodePrefix}n${i}`);
    await f.activeIn(tenant.id, `${nodePrefix}n${i}`);
  }
  return tenant;
}

/**
 * A fleet at t0 whose tenant of one node lost it (xid 79: the replacement owed, no spare then), and one spare ready
 * now. Closed after the test through `closers`.
 */
export async function owedWithSpare(closers: Array<() => Promise<void>>, options: Parameters<typeof tenantOf>[2] = {}) {
  const f = await startFleet({ now: () => t0 });
  closers.push(f.close);
  const tenant = await tenantOf(f, 1, options);
  await f.lifecycle.apply(`${options.nodePrefix ?? ''}n1`, 'fail', 'remediation', 'xid 79');
  await f.addNode('spare');
  return { f, tenant };
}

/** The retry as a replica runs it, at `now`, with any of its parts replaced (a fault put in). */
export const retrier = (f: Fleet, now = () => t0, over: Partial<Parameters<typeof createOwedReplacements>[0]> = {}) =>
  createOwedReplacements({ store: f.store, events: f.events, tenants: f.tenants, templates: f.templates, reimages: f.reimages, now, onError: () => undefined, ...over });

export const servingIn = async (f: Fleet, tenantId: string) =>
  (await f.store.listNodes()).filter((n) => n.tenant === tenantId && ['allocated', 'provisioning', 'active'].includes(n.state)).map((n) => n.id).sort();
export const replaceOps = async (f: Fleet) => (await f.store.listOperations(50)).filter((o) => o.kind === 'replace-node');
/** A step that never answers: its process was killed there. */
export const never = () => new Promise<never>(() => undefined);
