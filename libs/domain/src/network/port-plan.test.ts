import { describe, expect, it } from 'vitest';
import type { NodeState } from '../node.ts';
import { desiredPorts, portDrift, type PlannedNode, type TenantNetwork } from './port-plan.ts';

const tenants = new Map<string, TenantNetwork>([
  ['t-a', { id: 't-a', name: 'acme', vlan: 101, vni: 10101 }],
  ['t-b', { id: 't-b', name: 'blue', vlan: 102, vni: 10102 }],
]);
const provisioning = 10;
const link = (nodeId: string, port: string) => ({ switchName: 'leaf-1', port, nodeId });

describe('desiredPorts', () => {
  it.each<{ state: NodeState; tenant: string | null; vlan: number }>([
    { state: 'active', tenant: 't-a', vlan: 101 },
    { state: 'active', tenant: 't-b', vlan: 102 },
    // Allocated or still provisioning: not wiped and reimaged for the tenant yet, so not on its network.
    { state: 'allocated', tenant: 't-a', vlan: provisioning },
    { state: 'provisioning', tenant: 't-a', vlan: provisioning },
    { state: 'releasing', tenant: 't-a', vlan: provisioning },
    { state: 'failed', tenant: 't-a', vlan: provisioning },
    { state: 'available', tenant: null, vlan: provisioning },
    { state: 'discovered', tenant: null, vlan: provisioning },
    { state: 'retired', tenant: null, vlan: provisioning },
  ])('a $state node of tenant $tenant → VLAN $vlan', ({ state, tenant, vlan }) => {
    const nodes = new Map<string, PlannedNode>([['n1', { id: 'n1', state, tenant }]]);
    expect(desiredPorts([link('n1', 'p1')], nodes, tenants, provisioning)).toEqual([
      expect.objectContaining({ switchName: 'leaf-1', port: 'p1', nodeId: 'n1', vlan }),
    ]);
  });

  it('leaves a port whose node the manager does not know alone', () => {
    expect(desiredPorts([link('ghost', 'p9')], new Map(), tenants, provisioning)).toEqual([]);
  });
});

describe('portDrift', () => {
  const nodes = new Map<string, PlannedNode>([['n1', { id: 'n1', state: 'active', tenant: 't-a' }], ['n2', { id: 'n2', state: 'available', tenant: null }]]);
  const plan = desiredPorts([link('n1', 'p1'), link('n2', 'p2')], nodes, tenants, provisioning);

  it('is empty when the switch matches the plan', () => {
    expect(portDrift(plan, [{ switchName: 'leaf-1', port: 'p1', vlan: 101 }, { switchName: 'leaf-1', port: 'p2', vlan: 10 }])).toEqual([]);
  });

  it('names a port retagged by hand, and a planned port the switch does not have', () => {
    const drift = portDrift(plan, [{ switchName: 'leaf-1', port: 'p1', vlan: 102 }]);
    expect(drift.map((d) => [d.port, d.vlan, d.actualVlan])).toEqual([['p1', 101, 102], ['p2', 10, null]]);
  });
});
