import { describe, expect, it } from 'vitest';
import { identityKey, isAnonymous, matchIdentity, normalizeIdentity, parseMac, type NodeIdentity } from './node-identity.ts';

function id(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

const a = id({ systemUuid: '4C4C4544-0042-3510-8052-B4C04F4E4D32', systemSerial: 'SN-A', macs: ['0C:42:A1:00:00:01'] });
const b = id({ systemUuid: '4c4c4544-0042-3510-8052-b4c04f4e4d33', systemSerial: 'SN-B', macs: ['0c:42:a1:00:00:02'] });

describe('matchIdentity', () => {
  // The attack: a machine claiming one identifier of a known node must never be that node.
  const full = id({ systemUuid: 'a1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'SN-F', chassisSerial: 'CH-F', boardSerial: 'BRD-F', macs: ['0c:42:a1:00:00:11', '0c:42:a1:00:00:12'] });
  const cases: Array<{ name: string; me: NodeIdentity; known: Array<[string, NodeIdentity]>; expected: unknown }> = [
    { name: 'nothing known: new', me: a, known: [], expected: { kind: 'new' } },
    { name: 'every identifier agrees (case and MAC order aside): known', me: { ...full, systemUuid: full.systemUuid.toUpperCase(), macs: ['0C-42-A1-00-00-12', '0c:42:a1:00:00:11'] }, known: [['n1', full], ['n2', b]], expected: { kind: 'known', nodeId: 'n1' } },
    { name: 'same placeholders and MACs: known', me: id({ systemUuid: '00000000-0000-0000-0000-000000000000', macs: ['aa:bb:cc:00:00:01'] }), known: [['n3', id({ macs: ['aa:bb:cc:00:00:01'] })]], expected: { kind: 'known', nodeId: 'n3' } },
    { name: 'one MAC of a known node only: conflict', me: id({ macs: ['0c:42:a1:00:00:11'] }), known: [['n1', full]], expected: { kind: 'conflict', nodeIds: ['n1'], reason: expect.stringContaining('system UUID none') } },
    { name: 'one board serial of a known node only: conflict', me: id({ boardSerial: 'BRD-F', macs: ['de:ad:be:ef:00:01'] }), known: [['n1', full]], expected: { kind: 'conflict', nodeIds: ['n1'] } },
    { name: 'UUID and serials agree, a MAC missing: conflict', me: { ...full, macs: ['0c:42:a1:00:00:11'] }, known: [['n1', full]], expected: { kind: 'conflict', reason: expect.stringContaining('missing 0c:42:a1:00:00:12') } },
    { name: 'UUID and serials agree, an extra MAC: conflict', me: { ...full, macs: [...full.macs, '0c:42:a1:00:00:03'] }, known: [['n1', full]], expected: { kind: 'conflict', reason: expect.stringContaining('new 0c:42:a1:00:00:03') } },
    { name: 'same UUID, different serial: conflict, not merged', me: { ...a, systemSerial: 'SN-OTHER' }, known: [['n1', a]], expected: { kind: 'conflict', nodeIds: ['n1'], reason: expect.stringContaining('system serial SN-OTHER (known: SN-A)') } },
    { name: 'UUID omitted, the rest agrees: conflict', me: { ...full, systemUuid: '' }, known: [['n1', full]], expected: { kind: 'conflict', nodeIds: ['n1'] } },
    { name: 'identifiers of two nodes: conflict naming both', me: id({ systemUuid: a.systemUuid, macs: b.macs }), known: [['n1', a], ['n2', b]], expected: { kind: 'conflict', nodeIds: ['n1', 'n2'] } },
    { name: 'two nodes share the UUID: conflict', me: a, known: [['n1', a], ['n7', { ...a, systemSerial: '' }]], expected: { kind: 'conflict', nodeIds: ['n1', 'n7'] } },
    { name: 'a candidate sharing nothing is ignored: new', me: a, known: [['n2', b]], expected: { kind: 'new' } },
    { name: 'placeholder UUID is not shared', me: id({ systemUuid: '03000200-0400-0500-0006-000700080009', macs: ['aa:bb:cc:00:00:05'] }), known: [['n5', id({ systemUuid: '03000200-0400-0500-0006-000700080009', macs: ['aa:bb:cc:00:00:06'] })]], expected: { kind: 'new' } },
    { name: 'placeholder serial is not shared', me: id({ systemSerial: 'To Be Filled By O.E.M.', macs: ['aa:bb:cc:00:00:07'] }), known: [['n6', id({ systemSerial: 'To be filled by O.E.M.' })]], expected: { kind: 'new' } },
    { name: 'zero MAC is never an identity', me: id({ macs: ['00:00:00:00:00:00'] }), known: [['n10', id({ macs: ['00:00:00:00:00:00'] })]], expected: { kind: 'new' } },
  ];

  it.each(cases)('$name', ({ me, known, expected }) => {
    const result = matchIdentity(me, known.map(([nodeId, identity]) => ({ nodeId, identity })));
    expect(result).toMatchObject(expected as object);
  });
});

describe('normalizeIdentity', () => {
  it('lower-cases, dedups and sorts MACs and drops invalid ones', () => {
    expect(normalizeIdentity(id({ macs: ['AA:BB:CC:00:00:02', 'aa-bb-cc-00-00-01', 'aa:bb:cc:00:00:02', 'junk'] })).macs)
      .toEqual(['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:02']);
  });

  it('treats a machine with only placeholders as anonymous', () => {
    expect(isAnonymous(id({ systemUuid: '00000000-0000-0000-0000-000000000000', systemSerial: 'Default string' }))).toBe(true);
    expect(isAnonymous(id({ macs: ['aa:bb:cc:00:00:01'] }))).toBe(false);
  });
});

describe('identityKey', () => {
  it('is the same for the same machine written differently, and differs when any identifier does', () => {
    expect(identityKey(id({ systemUuid: 'ABC', macs: ['AA-BB-CC-00-00-02', 'aa:bb:cc:00:00:01'] }))).toBe(identityKey(id({ systemUuid: 'abc', macs: ['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:02'] })));
    expect(identityKey(id({ systemUuid: 'abc', boardSerial: 'B1' }))).not.toBe(identityKey(id({ systemUuid: 'abc', boardSerial: 'B2' })));
  });
});

describe('one machine, spelled as different tools print it', () => {
  const stored = id({ systemUuid: '4c4c4544-0042-3510-8052-b4c04f4e4d32', systemSerial: 'SN-A1', boardSerial: 'BRD-7X', macs: ['0c:42:a1:00:00:01', '0c:42:a1:00:00:02'] });
  const cases: Array<{ name: string; me: NodeIdentity }> = [
    { name: 'UUID in braces', me: { ...stored, systemUuid: '{4C4C4544-0042-3510-8052-B4C04F4E4D32}' } },
    { name: 'serials in lower case', me: { ...stored, systemSerial: 'sn-a1', boardSerial: 'brd-7x' } },
    { name: 'MACs without separators', me: { ...stored, macs: ['0C42A1000001', '0c42a1000002'] } },
    { name: 'MACs dotted', me: { ...stored, macs: ['0c42.a100.0001', '0C42.A100.0002'] } },
    { name: 'MACs dashed', me: { ...stored, macs: ['0C-42-A1-00-00-01', '0c-42-a1-00-00-02'] } },
  ];
  it.each(cases)('$name: the same node, the same key', ({ me }) => {
    expect(matchIdentity(me, [{ nodeId: 'n1', identity: stored }])).toEqual({ kind: 'known', nodeId: 'n1' });
    expect(identityKey(me)).toBe(identityKey(stored));
  });

  it('keeps the serial as reported for display', () => {
    expect(normalizeIdentity(id({ systemSerial: ' sn-a1 ' })).systemSerial).toBe('sn-a1');
  });

  it.each([
    ['aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff'], ['AA-BB-CC-DD-EE-FF', 'aa:bb:cc:dd:ee:ff'], ['aabb.ccdd.eeff', 'aa:bb:cc:dd:ee:ff'],
    ['AABBCCDDEEFF', 'aa:bb:cc:dd:ee:ff'], ['aa:bb:cc:dd:ee', null], ['aabb.ccdd.eef', null], ['aa:bb-cc:dd:ee:ff:00', null], ['junk', null], ['', null],
  ])('parseMac(%j) is %j', (value, expected) => {
    expect(parseMac(value)).toBe(expected);
  });
});
