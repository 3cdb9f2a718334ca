import { describe, expect, it } from 'vitest';
import type { Nic } from '../inventory.ts';
import { effectiveLinks, learnedLinks, type LearnedLink, type PlannedLink } from './cabling.ts';
import { lldpSource, trustedSource, type LinkSource, type LldpReport } from './cabling-trust.ts';

const nic = (mac: string, switchName: string, portId: string): Nic => ({
  name: 'eth0', mac, speedMbps: 100000, linkUp: true, driver: 'mlx5_core', firmware: '', physical: true,
  neighbor: switchName ? { switchName, switchId: '', portId, portDescription: '' } : null,
});

const plan = (nodeId: string, mac: string, port: string): PlannedLink => ({ nodeId, mac, switchName: 'leaf-1', port });
const heard = (nodeId: string, mac: string, port: string, source: LinkSource, minute = 0): LearnedLink => ({
  nodeId, mac, switchName: 'leaf-1', port, source, trusted: trustedSource(source), since: new Date(Date.UTC(2026, 10, 1, 0, minute)),
});

describe('cabling trust', () => {
  it.each<[LldpReport, LinkSource, boolean]>([
    ['register-with-bootstrap-token', 'lldp-manager-image', true],
    ['register-with-node-credential', 'lldp-node-os', false],
    ['inventory-update', 'lldp-node-os', false],
  ])('LLDP from %s is %s (trusted: %s)', (report, source, trusted) => {
    expect(lldpSource(report)).toBe(source);
    expect(trustedSource(source)).toBe(trusted);
  });

  it('trusts what the switch itself sees', () => {
    expect(trustedSource('switch')).toBe(true);
  });
});

describe('cabling', () => {
  it('learns links from the LLDP neighbours a node heard, skipping NICs that heard none and a second NIC on one port', () => {
    expect(learnedLinks('n1', [nic('AA:00:00:00:00:01', 'leaf-1', 'Ethernet1'), nic('aa:00:00:00:00:02', '', ''), nic('aa:00:00:00:00:03', 'leaf-1', 'Ethernet1')])).toEqual([
      { nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'Ethernet1' },
    ]);
  });

  const cases: Array<{
    name: string;
    planned: PlannedLink[];
    learned: LearnedLink[];
    links: Array<[nodeId: string, port: string]>;
    warnings: Array<[kind: string, nodeId: string, port: string, holder: string | null]>;
  }> = [
    {
      name: 'uses trusted learned links where no plan exists, and the plan where LLDP agrees',
      planned: [plan('n1', 'a1', 'p1')],
      learned: [heard('n1', 'a1', 'p1', 'lldp-manager-image'), heard('n2', 'a2', 'p2', 'lldp-manager-image'), heard('n3', 'a3', 'p3', 'switch')],
      links: [['n1', 'p1'], ['n2', 'p2'], ['n3', 'p3']],
      warnings: [],
    },
    {
      name: "maps nothing from the node's own OS, even a port nobody holds",
      planned: [],
      learned: [heard('n1', 'a1', 'p1', 'lldp-node-os')],
      links: [],
      warnings: [],
    },
    {
      name: "lets the node's own OS agree with its trusted link without a warning",
      planned: [],
      learned: [heard('n1', 'a1', 'p1', 'lldp-manager-image'), heard('n1', 'a1', 'p1', 'lldp-node-os', 5)],
      links: [['n1', 'p1']],
      warnings: [],
    },
    {
      name: "never moves a port learned for one node to another tenant's node that claims it from its OS: a warning, nothing else",
      planned: [],
      learned: [heard('a', 'a1', 'p1', 'lldp-manager-image'), heard('b', 'b1', 'p2', 'lldp-manager-image'), heard('b', 'b1', 'p1', 'lldp-node-os', 9)],
      links: [['a', 'p1'], ['b', 'p2']],
      warnings: [['port-conflict', 'b', 'p1', 'a']],
    },
    {
      name: 'keeps a port with the earliest trusted claim when a later trusted claim wants it too',
      planned: [],
      learned: [heard('b', 'b1', 'p1', 'lldp-manager-image', 7), heard('a', 'a1', 'p1', 'lldp-manager-image', 1)],
      links: [['a', 'p1']],
      warnings: [['port-conflict', 'b', 'p1', 'a']],
    },
    {
      name: 'orders claims of the same moment by node id, so the answer does not depend on row order',
      planned: [],
      learned: [heard('b', 'b1', 'p1', 'switch'), heard('a', 'a1', 'p1', 'switch')],
      links: [['a', 'p1']],
      warnings: [['port-conflict', 'b', 'p1', 'a']],
    },
    {
      name: "maps a NIC once: the switch seeing the same MAC on a second port (a spoofed MAC) takes no second port",
      planned: [],
      learned: [heard('a', 'a1', 'p1', 'lldp-manager-image'), heard('a', 'a1', 'p9', 'switch', 4), heard('a', 'a1', 'p8', 'lldp-node-os', 5)],
      links: [['a', 'p1']],
      warnings: [['nic-elsewhere', 'a', 'p9', null], ['nic-elsewhere', 'a', 'p8', null]],
    },
    {
      name: 'lets no claim, trusted or not, take a port the plan gives to another NIC',
      planned: [plan('n1', 'a1', 'p1')],
      learned: [heard('n2', 'a2', 'p1', 'lldp-manager-image'), heard('n3', 'a3', 'p1', 'lldp-node-os')],
      links: [['n1', 'p1']],
      warnings: [['port-conflict', 'n2', 'p1', 'n1'], ['port-conflict', 'n3', 'p1', 'n1']],
    },
    {
      name: 'keeps the plan and warns when LLDP hears a planned NIC on another port',
      planned: [plan('n1', 'a1', 'p1')],
      learned: [heard('n1', 'a1', 'p7', 'lldp-manager-image')],
      links: [['n1', 'p1']],
      warnings: [['off-plan', 'n1', 'p7', null]],
    },
    {
      name: 'an operator re-plans a port away from its first claimant: the plan wins and the old claim is the warning',
      planned: [plan('b', 'b1', 'p1')],
      learned: [heard('a', 'a1', 'p1', 'lldp-manager-image')],
      links: [['b', 'p1']],
      warnings: [['port-conflict', 'a', 'p1', 'b']],
    },
  ];

  it.each(cases)('$name', ({ planned, learned, links, warnings }) => {
    const result = effectiveLinks(planned, learned);
    expect(result.links.map((l) => [l.nodeId, l.port])).toEqual(links);
    expect(result.warnings.map((w) => [w.kind, w.nodeId, w.heard.port, w.holder?.nodeId ?? null])).toEqual(warnings);
  });

  it('says in the warning who claims the port, by what, and who keeps it', () => {
    const { warnings } = effectiveLinks([], [heard('a', 'a1', 'p1', 'lldp-manager-image'), heard('b', 'b1', 'p1', 'lldp-node-os', 3)]);
    expect(warnings.map((w) => w.message)).toEqual([
      "node b claims leaf-1/p1 for NIC b1 by LLDP from the node's own OS (not trusted), but it already belongs to NIC a1 of node a: the port stays, an operator decides",
    ]);
  });
});
