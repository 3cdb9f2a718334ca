// Which known node a registering machine is. Pure: the caller looks up the
// candidates (nodes sharing any identifier) and passes them in.

export interface NodeIdentity {
  systemUuid: string;
  systemSerial: string;
  chassisSerial: string;
  boardSerial: string;
  macs: readonly string[];
  bmcAddress: string;
}

export interface KnownIdentity {
  nodeId: string;
  identity: NodeIdentity;
}

export type IdentityMatch =
  | { kind: 'new' }
  | { kind: 'known'; nodeId: string }
  | { kind: 'conflict'; nodeIds: readonly string[]; reason: string };

// Values firmware vendors ship instead of a real identifier. Two machines with
// the same placeholder are not the same machine.
const placeholderUuids = new Set([
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '03000200-0400-0500-0006-000700080009',
  '00020003-0004-0005-0006-000700080009',
]);

const placeholderSerials = new Set([
  '', '-', '0', 'none', 'n/a', 'na', 'not specified', 'not applicable', 'default string',
  'to be filled by o.e.m.', 'system serial number', 'chassis serial number',
  'base board serial number', '0123456789', '1234567890', 'unknown', 'empty', '00000000',
]);

const badMacs = new Set(['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']);

// SMBIOS tools print the UUID with or without braces, in either case.
function cleanUuid(value: string): string {
  const v = value.trim().replace(/^\{(.*)\}$/, '$1').trim().toLowerCase();
  return placeholderUuids.has(v) ? '' : v;
}

function cleanSerial(value: string): string {
  const v = value.trim();
  return placeholderSerials.has(v.toLowerCase()) ? '' : v;
}

/** Serials are compared without regard to case (vendors' tools disagree on it); what is stored and shown keeps the case reported. */
export function serialForComparison(value: string): string {
  return cleanSerial(value).toUpperCase();
}

/**
 * A MAC in any common spelling (aa:bb:cc:dd:ee:ff, AA-BB-…, aabb.ccdd.eeff,
 * aabbccddeeff) as lower-case colon form; null when it is none of them.
 */
export function parseMac(value: string): string | null {
  const v = value.trim().toLowerCase();
  const hex = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(v) ? v.replace(/[:-]/g, '')
    : /^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/.test(v) ? v.replaceAll('.', '')
      : /^[0-9a-f]{12}$/.test(v) ? v : null;
  return hex === null ? null : (hex.match(/../g) ?? []).join(':');
}

function cleanMac(value: string): string {
  const v = parseMac(value);
  return v !== null && !badMacs.has(v) ? v : '';
}

/** Drops placeholders and normalises case, so comparisons are meaningful. */
export function normalizeIdentity(identity: NodeIdentity): NodeIdentity {
  const macs = [...new Set(identity.macs.map(cleanMac).filter((m) => m !== ''))].sort();
  return {
    systemUuid: cleanUuid(identity.systemUuid),
    systemSerial: cleanSerial(identity.systemSerial),
    chassisSerial: cleanSerial(identity.chassisSerial),
    boardSerial: cleanSerial(identity.boardSerial),
    macs,
    bmcAddress: identity.bmcAddress.trim(),
  };
}

/** True when the identity holds nothing a machine can be recognised by. */
export function isAnonymous(identity: NodeIdentity): boolean {
  const n = normalizeIdentity(identity);
  return n.systemUuid === '' && n.systemSerial === '' && n.chassisSerial === '' && n.boardSerial === '' && n.macs.length === 0;
}

function serials(identity: NodeIdentity): string[] {
  return [identity.systemSerial, identity.chassisSerial, identity.boardSerial].filter((s) => s !== '');
}

/** The normalised identity with serials case-folded: what comparisons and keys use. */
function comparable(identity: NodeIdentity): NodeIdentity {
  const n = normalizeIdentity(identity);
  return { ...n, systemSerial: n.systemSerial.toUpperCase(), chassisSerial: n.chassisSerial.toUpperCase(), boardSerial: n.boardSerial.toUpperCase() };
}

/** Shares at least one identifier: the store's candidates, checked again here so a broad lookup is harmless. */
function sharesAny(a: NodeIdentity, b: NodeIdentity): boolean {
  if (a.systemUuid !== '' && a.systemUuid === b.systemUuid) return true;
  const theirSerials = new Set(serials(b));
  if (serials(a).some((s) => theirSerials.has(s))) return true;
  const theirMacs = new Set(b.macs);
  return a.macs.some((m) => theirMacs.has(m));
}

const show = (value: string) => (value === '' ? 'none' : value);

/** Where a presented identity disagrees with a stored one, in words; empty when every strong identifier agrees. */
export function identityDifferences(stored: NodeIdentity, presented: NodeIdentity): string[] {
  const s = comparable(stored);
  const p = comparable(presented);
  const fields = [
    ['system UUID', s.systemUuid, p.systemUuid], ['system serial', s.systemSerial, p.systemSerial],
    ['chassis serial', s.chassisSerial, p.chassisSerial], ['board serial', s.boardSerial, p.boardSerial],
  ] as const;
  const differences = fields.filter(([, a, b]) => a !== b).map(([name, a, b]) => `${name} ${show(b)} (known: ${show(a)})`);
  const missing = s.macs.filter((m) => !p.macs.includes(m));
  const extra = p.macs.filter((m) => !s.macs.includes(m));
  if (missing.length > 0 || extra.length > 0) {
    differences.push(`MACs differ (${[missing.length > 0 ? `missing ${missing.join(' ')}` : '', extra.length > 0 ? `new ${extra.join(' ')}` : ''].filter(Boolean).join(', ')})`);
  }
  return differences;
}

/** One string per distinct identity: operator approvals and recorded conflicts are keyed by it. */
export function identityKey(identity: NodeIdentity): string {
  const n = comparable(identity);
  return [n.systemUuid, n.systemSerial, n.chassisSerial, n.boardSerial, n.macs.join(',')].join('|');
}

/**
 * A machine is a known node only when it shares identifiers with exactly one
 * node and every strong identifier agrees: system UUID, system, chassis and
 * board serials, and the set of MACs. Anything less (one MAC, one serial, a
 * NIC swapped) is a conflict for an operator, never a silent match: a tenant
 * who is root on one machine can read and replay any single identifier.
 */
export function matchIdentity(identity: NodeIdentity, candidates: readonly KnownIdentity[]): IdentityMatch {
  const me = comparable(identity);
  const sharing = candidates
    .map((c) => ({ nodeId: c.nodeId, identity: comparable(c.identity) }))
    .filter((c) => sharesAny(me, c.identity));
  if (sharing.length === 0) return { kind: 'new' };
  const ids = sharing.map((c) => c.nodeId);
  if (sharing.length > 1) return { kind: 'conflict', nodeIds: ids, reason: `identifiers shared with ${sharing.length} nodes (${ids.join(', ')})` };
  const [hit] = sharing as [(typeof sharing)[number]];
  const differences = identityDifferences(hit.identity, me);
  if (differences.length > 0) return { kind: 'conflict', nodeIds: ids, reason: `partial match with node ${hit.nodeId}: ${differences.join('; ')}` };
  return { kind: 'known', nodeId: hit.nodeId };
}
