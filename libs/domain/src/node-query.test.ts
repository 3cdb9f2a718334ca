import { describe, expect, it } from 'vitest';
import type { NodeSummary } from './node.ts';
import { queryNodes, type NodeFilter } from './node-query.ts';

function node(id: string, p: Partial<NodeSummary>): NodeSummary {
  return {
    id, hostname: `host-${id}`, state: 'available', presence: 'online', presenceChangedAt: null, lastSeenAt: null, registeredAt: new Date(0), agentVersion: '1',
    identity: { systemUuid: `uuid-${id}`, systemSerial: `SER-${id}`, chassisSerial: '', boardSerial: '', macs: [`02:00:00:00:00:0${id}`], bmcAddress: '' },
    health: { severity: 'ok', remediation: 'none', conditionCount: 0 }, tenant: null, rack: 'leaf-1', gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8, ...p,
  };
}

const fleet = [
  node('1', {}),
  node('2', { state: 'active', tenant: 'acme', rack: 'leaf-2' }),
  node('3', { presence: 'offline', health: { severity: 'critical', remediation: 'reboot', conditionCount: 2 }, gpuModel: 'NVIDIA H200' }),
  node('4', { state: 'active', tenant: 'acme', health: { severity: 'warning', remediation: 'none', conditionCount: 1 } }),
];

describe('queryNodes', () => {
  it.each([
    ['no filter', {}, ['1', '2', '3', '4']],
    ['by state', { state: 'active' }, ['2', '4']],
    ['by presence', { presence: 'offline' }, ['3']],
    ['by tenant', { tenant: 'acme' }, ['2', '4']],
    ['by rack', { rack: 'leaf-2' }, ['2']],
    ['by GPU model', { gpuModel: 'NVIDIA H200' }, ['3']],
    ['by health severity', { health: 'critical' }, ['3']],
    ['combined', { state: 'active', health: 'warning' }, ['4']],
    ['free text: a MAC', { q: '02:00:00:00:00:03' }, ['3']],
    ['free text: a serial, any case', { q: 'ser-2' }, ['2']],
    ['free text: nothing', { q: 'no-such-thing' }, []],
  ] as Array<[string, NodeFilter, string[]]>)('%s', (_n, filter, ids) => {
    expect(queryNodes(fleet, filter, 0, 100).items.map((n) => n.id)).toEqual(ids);
  });

  it('finds a tenant\'s nodes by its name (issue 23: search knew only the tenant\'s id)', () => {
    const names = new Map([['acme', 'acme-research']]);
    expect(queryNodes(fleet, { q: 'Research' }, 0, 100, names).items.map((n) => n.id)).toEqual(['2', '4']);
    expect(queryNodes(fleet, { q: 'research' }, 0, 100).items).toEqual([]);
  });

  it('pages, with the total of all matching nodes', () => {
    expect(queryNodes(fleet, {}, 1, 2)).toMatchObject({ total: 4, offset: 1, limit: 2, items: [{ id: '2' }, { id: '3' }] });
    expect(queryNodes(fleet, {}, 10, 2)).toMatchObject({ total: 4, items: [] });
  });
});
