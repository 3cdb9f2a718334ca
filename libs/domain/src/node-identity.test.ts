import { describe, expect, it } from 'vitest';
import { isAnonymous, matchIdentity, normalizeIdentity, type NodeIdentity } from './node-identity.ts';

function id(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

const a = id({ systemUuid: '4C4C4544-0042-3510-8052-B4C04F4E4D32', systemSerial: 'SN-A', macs: ['0C:42:A1:00:00:01'] });
const b = id({ systemUuid: '4c4c4544-0042-3510-8052-b4c04f4e4d33', systemSerial: 'SN-B', macs: ['0c:42:a1:00:00:02'] });

describe('matchIdentity', () => {
  const cases: Array<{ name: string; me: NodeIdentity; known: Array<[string, NodeIdentity]>; expected: unknown }> = [
    { name: 'nothing known: new', me: a, known: [], expected: { kind: 'new' } },
    { name: 'same UUID in other case: known by uuid', me: { ...a, systemUuid: a.systemUuid.toLowerCase() }, known: [['n1', a], ['n2', b]], expected: { kind: 'known', nodeId: 'n1', via: 'system-uuid' } },
    { name: 'no UUID, same serial: known by serial', me: id({ systemSerial: 'SN-B' }), known: [['n1', a], ['n2', b]], expected: { kind: 'known', nodeId: 'n2', via: 'serial' } },
    { name: 'board serial only: known by serial', me: id({ boardSerial: 'BRD-7' }), known: [['n3', id({ boardSerial: 'BRD-7', macs: ['aa:bb:cc:00:00:01'] })]], expected: { kind: 'known', nodeId: 'n3', via: 'serial' } },
    { name: 'only MACs, one NIC replaced: known by macs', me: id({ macs: ['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:09'] }), known: [['n4', id({ macs: ['AA-BB-CC-00-00-01', 'aa:bb:cc:00:00:02'] })]], expected: { kind: 'known', nodeId: 'n4', via: 'macs' } },
    { name: 'placeholder UUID is ignored', me: id({ systemUuid: '03000200-0400-0500-0006-000700080009', macs: ['aa:bb:cc:00:00:05'] }), known: [['n5', id({ systemUuid: '03000200-0400-0500-0006-000700080009', macs: ['aa:bb:cc:00:00:06'] })]], expected: { kind: 'new' } },
    { name: 'placeholder serial is ignored', me: id({ systemSerial: 'To Be Filled By O.E.M.' }), known: [['n6', id({ systemSerial: 'To be filled by O.E.M.' })]], expected: { kind: 'new' } },
    { name: 'two nodes share the UUID: conflict', me: a, known: [['n1', a], ['n7', { ...a, systemSerial: '' }]], expected: { kind: 'conflict', nodeIds: ['n1', 'n7'] } },
    { name: 'same UUID, different serial: conflict, not merged', me: { ...a, systemSerial: 'SN-OTHER' }, known: [['n1', a]], expected: { kind: 'conflict', nodeIds: ['n1'] } },
    { name: 'MAC shared by two nodes: conflict', me: id({ macs: ['aa:bb:cc:00:00:01'] }), known: [['n8', id({ macs: ['aa:bb:cc:00:00:01'] })], ['n9', id({ macs: ['aa:bb:cc:00:00:01'] })]], expected: { kind: 'conflict', nodeIds: ['n8', 'n9'] } },
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
