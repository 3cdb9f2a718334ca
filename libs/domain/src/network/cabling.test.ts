import { describe, expect, it } from 'vitest';
import type { Nic } from '../inventory.ts';
import { effectiveLinks, learnedLinks, type LearnedLink, type PlannedLink } from './cabling.ts';
import { claimsReplacedByReport, lldpSource, trustedSource, type LinkSource, type LldpReport } from './cabling-trust.ts';

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

describe('what a new report replaces', () => {
  const p = (port: string) => ({ switchName: 'leaf-1', port });
  it.each<[string, LinkSource, string[], string[], string[]]>([
    ['the tenant OS: only its latest word is kept', 'lldp-node-os', ['p1', 'p2'], ['p2'], ['p1']],
    ['the tenant OS: a report without LLDP drops its claims', 'lldp-node-os', ['p1'], [], ['p1']],
    ["the manager's image without LLDP: the mapped port stays", 'lldp-manager-image', ['p1'], [], []],
    ["the manager's image heard elsewhere: the old port stays (an operator decides)", 'lldp-manager-image', ['p1'], ['p2'], []],
    ['the switch no longer sees it: the port stays', 'switch', ['p1'], [], []],
    ['legacy claims stay', 'lldp-legacy', ['p1'], [], []],
  ])('%s', (_case, source, earlier, now, replaced) => {
    expect(claimsReplacedByReport(source, earlier.map(p), now.map(p)).map((l) => l.port)).toEqual(replaced);
  });

  it('keeps a port with its owner after a report without LLDP: a new trusted claim on it is a conflict, the NIC heard elsewhere a warning', () => {
    // V was heard on p1 in the manager's image, re-registered in it without LLDP (nothing replaced), then a new machine claims p1.
    const earlier = [heard('v', 'aa:00:00:00:00:01', 'p1', 'lldp-manager-image', 0)];
    expect(claimsReplacedByReport('lldp-manager-image', earlier, [])).toEqual([]);
    const { links, warnings } = effectiveLinks([], [...earlier, heard('x', 'aa:00:00:00:00:99', 'p1', 'lldp-manager-image', 5), heard('v', 'aa:00:00:00:00:01', 'p2', 'lldp-manager-image', 6)]);
    expect(links).toEqual([{ nodeId: 'v', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'p1' }]);
    expect(warnings.map((w) => [w.kind, w.nodeId, w.heard.port])).toEqual([['port-conflict', 'x', 'p1'], ['nic-elsewhere', 'v', 'p2']]);
  });
});

describe('cabling', () => {
  it('learns links from the LLDP neighbours a node heard, skipping NICs that heard none and a second NIC on one port', () => {
    const own = ['aa:00:00:00:00:01', 'aa:00:00:00:00:02', 'aa:00:00:00:00:03'];
    expect(learnedLinks('n1', [nic('AA:00:00:00:00:01', 'leaf-1', 'Ethernet1'), nic('aa:00:00:00:00:02', '', ''), nic('aa:00:00:00:00:03', 'leaf-1', 'Ethernet1')], own)).toEqual([
      { nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'Ethernet1' },
    ]);
  });

  it("claims ports only with the machine's own MACs: made-up NICs and respellings of one MAC claim nothing more", () => {
    const own = ['52:54:00:66:00:01'];
    const nics = [
      nic('52-54-00-66-00-01', 'leaf-7', 'Ethernet1'),
      ...Array.from({ length: 256 }, (_, i) => nic(`not-a-mac-${i}`, 'leaf-7', `Ethernet${i + 2}`)),
      nic('aa:00:00:00:00:09', 'leaf-7', 'Ethernet300'),
      nic('5254.0066.0001', 'leaf-7', 'Ethernet301'),
    ];
    expect(learnedLinks('rogue', nics, own)).toEqual([
      { nodeId: 'rogue', mac: '52:54:00:66:00:01', switchName: 'leaf-7', port: 'Ethernet1' },
      { nodeId: 'rogue', mac: '52:54:00:66:00:01', switchName: 'leaf-7', port: 'Ethernet301' },
    ]);
    // The second spelling is the same NIC: once mapped, it takes no second port (nic-elsewhere).
    const { links, warnings } = effectiveLinks([], learnedLinks('rogue', nics, own).map((l, i) => ({ ...l, source: 'lldp-manager-image' as const, trusted: true, since: new Date(i) })));
    expect(links.map((l) => l.port)).toEqual(['Ethernet1']);
    expect(warnings.map((w) => w.kind)).toEqual(['nic-elsewhere']);
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
