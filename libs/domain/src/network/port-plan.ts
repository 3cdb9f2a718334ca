// Which VLAN each switch port should carry. A port opens to a tenant only when
// its node is active for that tenant: allocated, wiped and reimaged for it
// (the lifecycle reaches `active` only through provisioning). Every other node
// sits on the provisioning network; a port with no known node is left alone.
import type { NodeState } from '../node.ts';

export interface TenantNetwork {
  id: string;
  name: string;
  vlan: number;
  vni: number;
}

export interface PlannedNode {
  id: string;
  state: NodeState;
  tenant: string | null;
}

export interface PortLink {
  switchName: string;
  port: string;
  nodeId: string;
}

export type PortRole = 'tenant' | 'provisioning';

export interface DesiredPort {
  switchName: string;
  port: string;
  nodeId: string;
  vlan: number;
  role: PortRole;
  tenant: string | null;
  why: string;
}

export function desiredPorts(
  links: readonly PortLink[],
  nodes: ReadonlyMap<string, PlannedNode>,
  tenants: ReadonlyMap<string, TenantNetwork>,
  provisioningVlan: number,
): DesiredPort[] {
  const plan: DesiredPort[] = [];
  for (const link of links) {
    const node = nodes.get(link.nodeId);
    if (!node) continue;
    const tenant = node.tenant ? tenants.get(node.tenant) : undefined;
    const base = { switchName: link.switchName, port: link.port, nodeId: node.id };
    if (tenant && node.state === 'active') {
      plan.push({ ...base, vlan: tenant.vlan, role: 'tenant', tenant: tenant.id, why: `active for tenant ${tenant.name}` });
    } else {
      const why = tenant ? `${node.state} for tenant ${tenant.name}: not yet wiped and reimaged for it` : `${node.state}, no tenant`;
      plan.push({ ...base, vlan: provisioningVlan, role: 'provisioning', tenant: null, why });
    }
  }
  return plan;
}

export interface ActualPort {
  switchName: string;
  port: string;
  /** The access VLAN the switch reports; null for an untagged/trunk port. */
  vlan: number | null;
}

export interface PortDrift extends DesiredPort {
  actualVlan: number | null;
}

/** Ports whose actual VLAN differs from the plan; a planned port missing on the switch counts as drift too. */
export function portDrift(plan: readonly DesiredPort[], actual: readonly ActualPort[]): PortDrift[] {
  const reported = new Map(actual.map((p) => [`${p.switchName}\u0000${p.port}`, p.vlan]));
  const drift: PortDrift[] = [];
  for (const want of plan) {
    const key = `${want.switchName}\u0000${want.port}`;
    const actualVlan = reported.has(key) ? (reported.get(key) ?? null) : null;
    if (actualVlan !== want.vlan) drift.push({ ...want, actualVlan });
  }
  return drift;
}
