import { describe, expect, it } from 'vitest';
import type { Nic } from '../inventory.ts';
import { effectiveLinks, learnedLinks } from './cabling.ts';

const nic = (mac: string, switchName: string, portId: string): Nic => ({
  name: 'eth0', mac, speedMbps: 100000, linkUp: true, driver: 'mlx5_core', firmware: '', physical: true,
  neighbor: switchName ? { switchName, switchId: '', portId, portDescription: '' } : null,
});

describe('cabling', () => {
  it('learns links from the LLDP neighbours a node heard, skipping NICs that heard none', () => {
    expect(learnedLinks('n1', [nic('AA:00:00:00:00:01', 'leaf-1', 'Ethernet1'), nic('aa:00:00:00:00:02', '', '')])).toEqual([
      { nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'Ethernet1', source: 'lldp' },
    ]);
  });

  it('uses learned links where no plan exists, and the plan where LLDP agrees', () => {
    const planned = [{ nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'p1' }];
    const learned = [...learnedLinks('n1', [nic('aa:00:00:00:00:01', 'leaf-1', 'p1')]), ...learnedLinks('n2', [nic('aa:00:00:00:00:02', 'leaf-1', 'p2')])];
    const { links, warnings } = effectiveLinks(planned, learned);
    expect(links.map((l) => [l.nodeId, l.port])).toEqual([['n1', 'p1'], ['n2', 'p2']]);
    expect(warnings).toEqual([]);
  });

  it('keeps the plan and warns when LLDP hears the NIC on another port', () => {
    const planned = [{ nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'p1' }];
    const { links, warnings } = effectiveLinks(planned, learnedLinks('n1', [nic('aa:00:00:00:00:01', 'leaf-2', 'p7')]));
    expect(links.map((l) => l.port)).toEqual(['p1']);
    expect(warnings.map((w) => w.message)).toEqual(['NIC aa:00:00:00:00:01 of node n1 is planned on leaf-1/p1 but LLDP hears leaf-2/p7']);
  });

  it('never lets a learned link take a port the plan gives to another NIC', () => {
    const planned = [{ nodeId: 'n1', mac: 'aa:00:00:00:00:01', switchName: 'leaf-1', port: 'p1' }];
    const { links, warnings } = effectiveLinks(planned, learnedLinks('n2', [nic('aa:00:00:00:00:02', 'leaf-1', 'p1')]));
    expect(links.map((l) => l.nodeId)).toEqual(['n1']);
    expect(warnings).toHaveLength(1);
  });
});
