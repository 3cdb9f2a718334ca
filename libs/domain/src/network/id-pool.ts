// VLAN and VNI allocation from configured pools. Pure: the caller passes in
// what is taken. An id a tenant gave back is reusable only once no switch port
// still carries it, so a new tenant never lands on a segment where a node of
// the old one may still sit.
import { DomainError } from '../errors.ts';

export interface IdPool {
  /** What the ids are, for messages: "VLAN", "VNI". */
  kind: string;
  first: number;
  last: number;
}

export const vlanRange = { first: 1, last: 4094 } as const;
export const vniRange = { first: 1, last: 16_777_215 } as const;

export function validatePool(pool: IdPool, range: { first: number; last: number }): IdPool {
  const { kind, first, last } = pool;
  if (!Number.isInteger(first) || !Number.isInteger(last) || first > last || first < range.first || last > range.last) {
    throw new DomainError('invalid-argument', `${kind} pool ${first}-${last} is not within ${range.first}-${range.last}`);
  }
  return pool;
}

export function parsePool(kind: string, text: string, range: { first: number; last: number }): IdPool {
  const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (!match) throw new DomainError('invalid-argument', `${kind} pool "${text}" is not "first-last"`);
  return validatePool({ kind, first: Number(match[1]), last: Number(match[2]) }, range);
}

export interface PoolUsage {
  /** Ids held by tenants now. */
  allocated: ReadonlySet<number>;
  /** Ids still configured on some switch port (actual state), tenant or not. */
  onPorts: ReadonlySet<number>;
  /** Ids the pool must never hand out (the provisioning VLAN, for one). */
  reserved?: ReadonlySet<number>;
}

/** The lowest id free for a new tenant, or a pool-exhausted error. */
export function allocateId(pool: IdPool, usage: PoolUsage): number {
  for (let id = pool.first; id <= pool.last; id += 1) {
    if (!usage.allocated.has(id) && !usage.onPorts.has(id) && !usage.reserved?.has(id)) return id;
  }
  throw new DomainError('conflict', `${pool.kind} pool ${pool.first}-${pool.last} has no free id`);
}

export function poolContains(pool: IdPool, id: number): boolean {
  return id >= pool.first && id <= pool.last;
}
