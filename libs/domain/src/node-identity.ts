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
  | { kind: 'known'; nodeId: string; via: 'system-uuid' | 'serial' | 'macs' }
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

function cleanUuid(value: string): string {
  const v = value.trim().toLowerCase();
  return placeholderUuids.has(v) ? '' : v;
}

function cleanSerial(value: string): string {
  const v = value.trim();
  return placeholderSerials.has(v.toLowerCase()) ? '' : v;
}

function cleanMac(value: string): string {
  const v = value.trim().toLowerCase().replaceAll('-', ':');
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(v) && !badMacs.has(v) ? v : '';
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

function sharesSerial(a: NodeIdentity, b: NodeIdentity): boolean {
  const theirs = new Set(serials(b));
  return serials(a).some((s) => theirs.has(s));
}

function sharesMac(a: NodeIdentity, b: NodeIdentity): boolean {
  const theirs = new Set(b.macs);
  return a.macs.some((m) => theirs.has(m));
}

// Both sides have a system serial and they differ: a different machine that
// happens to share a UUID or a NIC (cloned firmware, a moved card).
function serialsDisagree(a: NodeIdentity, b: NodeIdentity): boolean {
  return a.systemSerial !== '' && b.systemSerial !== '' && a.systemSerial !== b.systemSerial;
}

/**
 * Matches on system UUID, then serial numbers, then the MAC set. Ambiguity is a
 * conflict for an operator to resolve, never a silent merge.
 */
export function matchIdentity(identity: NodeIdentity, candidates: readonly KnownIdentity[]): IdentityMatch {
  const me = normalizeIdentity(identity);
  const known = candidates.map((c) => ({ nodeId: c.nodeId, identity: normalizeIdentity(c.identity) }));

  const steps = [
    { via: 'system-uuid', applies: me.systemUuid !== '', same: (o: NodeIdentity) => o.systemUuid === me.systemUuid },
    { via: 'serial', applies: serials(me).length > 0, same: (o: NodeIdentity) => sharesSerial(me, o) },
    { via: 'macs', applies: me.macs.length > 0, same: (o: NodeIdentity) => sharesMac(me, o) },
  ] as const;

  for (const step of steps) {
    if (!step.applies) continue;
    const hits = known.filter((k) => step.same(k.identity));
    if (hits.length === 0) continue;
    const ids = hits.map((h) => h.nodeId);
    if (hits.length > 1) {
      return { kind: 'conflict', nodeIds: ids, reason: `${hits.length} nodes share this machine's ${step.via}` };
    }
    const [hit] = hits as [(typeof hits)[number]];
    if (serialsDisagree(me, hit.identity)) {
      return {
        kind: 'conflict',
        nodeIds: ids,
        reason: `node ${hit.nodeId} has the same ${step.via} but system serial ${hit.identity.systemSerial}, not ${me.systemSerial}`,
      };
    }
    return { kind: 'known', nodeId: hit.nodeId, via: step.via };
  }
  return { kind: 'new' };
}
