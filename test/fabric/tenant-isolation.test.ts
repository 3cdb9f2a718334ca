// Tenant isolation proven with real packets: a real Open vSwitch (userspace
// datapath) programmed by the real manager over OVSDB on 127.0.0.1, network
// namespaces as the nodes' NICs, and simulated agents as the nodes the manager
// knows. Pings between the namespaces are the judge; ovs-vsctl is the
// independent view of the switch and how drift is injected.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FabricStatus, NodeList, Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { startOvsLab, type LabNode, type OvsLab } from '../support/ovs.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const provisioningVlan = 10;
const dir = mkdtempSync(join(tmpdir(), 'mf-fabric-'));
let lab: OvsLab;
let manager: ManagerProcess;
let agent: Proc | null = null;
const lanes: LabNode[] = [];
/** Node ids of the simulated nodes, in the order of the lab's namespaces. */
const nodeIds: string[] = [];

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);

const tag = (lane: LabNode) => lab.vsctl('get', 'port', lane.port, 'tag');
beforeAll(async () => {
  lab = await startOvsLab();
  for (let i = 0; i < 4; i += 1) lanes.push(lab.addNode(`n${i + 1}`, `192.0.2.${11 + i}`));
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--ovsdb-switches', `lab=127.0.0.1:${lab.ovsdbPort}`, '--provisioning-vlan', String(provisioningVlan), '--vlan-pool', '101-110',
    '--fabric-interval-s', '1', '--telemetry-interval-s', '2',
  ]);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '4', '--simulate-seed', 'fabric',
    '--state-dir', join(dir, 'agents'), '--log-level', 'warn', '--kernel-cmdline', '/nonexistent']);
  const list = await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === 4 && l.items.every((n) => n.state === 'available'), 45_000);
  nodeIds.push(...list.items.map((n) => n.id));
  // The cabling plan: namespace i is node i's NIC.
  for (const [i, lane] of lanes.entries()) {
    await api('PUT', `/api/v1/fabric/links/lab/${lane.port}`, { nodeId: nodeIds[i], mac: lane.mac });
  }
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tenant networks on a real Open vSwitch', () => {
  let acme: Tenant;
  let blue: Tenant;
  const lane = (i: number): LabNode => {
    const found = lanes[i];
    if (!found) throw new Error(`no lab node ${i}`);
    return found;
  };
  const n1 = () => lane(0);
  const n2 = () => lane(1);
  const n3 = () => lane(2);
  const n4 = () => lane(3);

  it('puts every known node on the provisioning network first', async () => {
    for (const lane of lanes) expect(tag(lane)).toBe(String(provisioningVlan));
    const fabric = await api<FabricStatus>('GET', '/api/v1/fabric');
    expect(fabric.ports.map((p) => [p.port, p.desiredVlan, p.actualVlan, p.drift])).toEqual(lanes.map((l) => [l.port, provisioningVlan, provisioningVlan, false]));
  });

  it('gives each tenant its own VLAN, and opens a port to a tenant only once its node is provisioned for it', async () => {
    acme = await api<Tenant>('POST', '/api/v1/tenants', { name: 'acme' });
    blue = await api<Tenant>('POST', '/api/v1/tenants', { name: 'blue' });
    expect([acme.vlan, blue.vlan]).toEqual([101, 102]);
    for (const [tenant, i] of [[acme, 0], [acme, 1], [blue, 2]] as const) {
      await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: nodeIds[i] });
    }
    // Allocated is not yet wiped and reimaged for the tenant: still on the provisioning network.
    expect(tag(n1())).toBe(String(provisioningVlan));
    for (const i of [0, 1, 2]) {
      await api('POST', `/api/v1/nodes/${nodeIds[i]}/lifecycle`, { event: 'provision', reason: 'test: reimage for the tenant' });
      expect(tag(lane(i))).toBe(String(provisioningVlan));
      await api('POST', `/api/v1/nodes/${nodeIds[i]}/lifecycle`, { event: 'provisioned', reason: 'test: reimaged' });
    }
    expect([tag(n1()), tag(n2()), tag(n3()), tag(n4())]).toEqual(['101', '101', '102', String(provisioningVlan)]);
    const shown = await api<Tenant>('GET', `/api/v1/tenants/${acme.id}`);
    expect(shown.ports.map((p) => [p.port, p.desiredVlan, p.actualVlan, p.drift])).toEqual([[n1().port, 101, 101, false], [n2().port, 101, 101, false]]);
  });

  it('lets nodes of one tenant reach each other, and nothing else', async () => {
    expect(lab.reaches(n1(), n2(), true)).toBe(true);
    expect(lab.ping(n1(), n3().address)).toBe(false); // another tenant
    expect(lab.ping(n3(), n1().address)).toBe(false);
    expect(lab.ping(n1(), n4().address)).toBe(false); // the provisioning network
    expect(lab.ping(n4(), n2().address)).toBe(false);
  });

  it('cuts a node released from its tenant off at once', async () => {
    await api('DELETE', `/api/v1/tenants/${acme.id}/nodes/${nodeIds[1]}`);
    // The API answers after the switch is programmed: no grace period in which the old tenant still reaches it.
    expect(tag(n2())).toBe(String(provisioningVlan));
    expect(lab.ping(n1(), n2().address)).toBe(false);
    expect(lab.reaches(n2(), n4(), true)).toBe(true); // now with the other provisioning node
  });

  it('moves a node to another tenant only through wiping: then it reaches the new tenant and not the old', async () => {
    // Released, then wiped (reported by hand until reimaging reports it), then allocated and provisioned for blue.
    await api('POST', `/api/v1/nodes/${nodeIds[1]}/lifecycle`, { event: 'released', reason: 'test: wiped' });
    await api('POST', `/api/v1/tenants/${blue.id}/nodes`, { nodeId: nodeIds[1] });
    expect(tag(n2())).toBe(String(provisioningVlan));
    await api('POST', `/api/v1/nodes/${nodeIds[1]}/lifecycle`, { event: 'provision', reason: 'test: reimage for blue' });
    await api('POST', `/api/v1/nodes/${nodeIds[1]}/lifecycle`, { event: 'provisioned', reason: 'test: reimaged' });
    expect(tag(n2())).toBe(String(blue.vlan));
    expect(lab.reaches(n2(), n3(), true)).toBe(true);
    expect(lab.ping(n2(), n1().address)).toBe(false);
  });

  it('puts a port retagged by hand back within seconds, and counts the repair', async () => {
    lab.vsctl('set', 'port', n3().port, `tag=${acme.vlan}`); // someone moves a blue node onto acme's network
    await eventually(async () => tag(n3()), (t) => t === String(blue.vlan), 10_000);
    expect(lab.reaches(n1(), n3(), false)).toBe(false);
    const fabric = await api<FabricStatus>('GET', '/api/v1/fabric');
    expect(fabric.driftRepairs).toBe(1);
    const metrics = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
    expect(metrics).toContain('metalfleet_fabric_port_changes_total{reason="drift"} 1');
  });

  it('refuses to delete a tenant that still has nodes', async () => {
    const response = await fetch(`${manager.http}/api/v1/tenants/${acme.id}`, { method: 'DELETE', headers: manager.auth() });
    expect(response.status).toBe(409);
  });
});
