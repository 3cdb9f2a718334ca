// A tenant is root on its node: it holds the node credential and can send any
// inventory. Here one tenant's node claims, in its LLDP, the switch port of
// another tenant's node — through UpdateInventory and a re-Register with its
// own credential, as the tenant's root would — and then once more as if its
// install image had heard it. A real Open vSwitch (userspace datapath) is
// programmed by the real manager; the nodes register over real gRPC and report
// health over real MQTT. The port must stay on its tenant's VLAN (ovs-vsctl and
// pings are the judges); the operator sees a cabling warning and an alert, and
// only the operator's plan moves the port.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { credentials, Metadata } from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { FabricStatus, NodeList, Operation, Tenant } from '@metalfleet/api';
import { AgentService, CommandPhase, CommandProgressSchema, CommandSchema, HealthMessageSchema } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { startOvsLab, type LabNode, type OvsLab } from '../support/ovs.ts';
import { eventually } from '../support/processes.ts';

const provisioningVlan = 10;
const dir = mkdtempSync(join(tmpdir(), 'mf-cabling-'));
let lab: OvsLab;
let manager: ManagerProcess;
let mqttUrl = '';
let agentClient: ReturnType<typeof createClient<typeof AgentService>>;

interface Alerts { items: Array<{ rule: string; state: string; labels: Record<string, string>; nodes: string[] }> }
interface LabMachine { lane: LabNode; uuid: string; nodeId: string; credential: string }
const machines: Record<'a1' | 'a2' | 'b', LabMachine> = {} as Record<'a1' | 'a2' | 'b', LabMachine>;

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const tag = (lane: LabNode) => lab.vsctl('get', 'port', lane.port, 'tag');
const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
const nodeMetadata = (m: LabMachine) => {
  const metadata = new Metadata();
  metadata.set('x-metalfleet-node-id', m.nodeId);
  metadata.set('authorization', `Bearer ${m.credential}`);
  return metadata;
};
/** The NICs a machine reports: its own, heard on its own port, plus whatever it claims. */
const nics = (m: LabMachine, claims: Array<{ mac: string; port: string }> = []) => [{ mac: m.lane.mac, port: m.lane.port }, ...claims].map((n, i) => ({
  name: `eth${i}`, mac: n.mac, speedMbps: 1000, linkUp: true, driver: 'veth', firmware: '', physical: true,
  neighbor: { switchName: 'lab', switchId: '', portId: n.port, portDescription: '' },
}));
const secondNic = (m: LabMachine) => `02:00:00:00:0${m.lane.name.at(-1) ?? '0'}:02`;
const registration = (m: LabMachine, claims: Array<{ mac: string; port: string }> = []) => ({
  // A second NIC (02:00:00:00:0<x>:02), cabled nowhere in the lab: the one a tenant's root makes claims with.
  identity: { systemUuid: m.uuid, macs: [m.lane.mac, secondNic(m)] },
  inventory: { system: { hostname: m.lane.name }, nics: nics(m, claims) },
  agentVersion: 'test',
});
beforeAll(async () => {
  lab = await startOvsLab();
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--ovsdb-switches', `lab=127.0.0.1:${lab.ovsdbPort}`, '--provisioning-vlan', String(provisioningVlan), '--vlan-pool', '101-110', '--fabric-interval-s', '1',
    // The nodes here are this test's own gRPC and MQTT clients, which run no acceptance suite.
    '--acceptance', 'off',
  ]);
  await manager.start();
  mqttUrl = `mqtts://127.0.0.1:${String((await manager.proc!.waitForLog('manager ready'))['mqtt']).split(':').at(-1)}`;
  agentClient = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
  const bootstrapToken = readFileSync(manager.tokenFile, 'utf8').trim();
  for (const [key, address, uuid] of [['a1', '192.0.2.21', 'c0ffee00-0000-4000-8000-0000000000a1'], ['a2', '192.0.2.22', 'c0ffee00-0000-4000-8000-0000000000a2'], ['b', '192.0.2.23', 'c0ffee00-0000-4000-8000-00000000000b']] as const) {
    const m: LabMachine = { lane: lab.addNode(key, address), uuid, nodeId: '', credential: '' };
    // Discovery in the manager's image: a bootstrap token, and the LLDP it heard is trusted cabling.
    const reply = await agentClient.client.register({ ...registration(m), bootstrapToken });
    m.nodeId = reply.nodeId;
    m.credential = reply.nodeCredential;
    // Inspection passes on the first clean health digest.
    const client = await mqtt.connectAsync(mqttUrl, { clientId: m.nodeId, username: m.nodeId, password: m.credential, ca: ca(), reconnectPeriod: 0 });
    await client.publishAsync(`mf/v1/nodes/${m.nodeId}/health`, Buffer.from(toBinary(HealthMessageSchema, create(HealthMessageSchema, { kind: { case: 'digest', value: { conditions: [] } } }))), { qos: 1 });
    await client.endAsync();
    machines[key] = m;
  }
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.filter((n) => n.state === 'available').length === 3, 30_000);
}, 120_000);

afterAll(async () => {
  agentClient?.close();
  await manager?.stop();
  lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cabling a tenant cannot forge, on a real Open vSwitch', () => {
  let acme: Tenant;
  let blue: Tenant;

  it("puts each tenant's nodes on its VLAN by the cabling their discovery image heard", async () => {
    acme = await api<Tenant>('POST', '/api/v1/tenants', { name: 'acme' });
    blue = await api<Tenant>('POST', '/api/v1/tenants', { name: 'blue' });
    for (const [tenant, m] of [[acme, machines.a1], [acme, machines.a2], [blue, machines.b]] as const) {
      await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: m.nodeId });
      await api('POST', `/api/v1/nodes/${m.nodeId}/lifecycle`, { event: 'provision', reason: 'test: reimage for the tenant' });
      await api('POST', `/api/v1/nodes/${m.nodeId}/lifecycle`, { event: 'provisioned', reason: 'test: reimaged' });
    }
    expect([tag(machines.a1.lane), tag(machines.a2.lane), tag(machines.b.lane)]).toEqual([String(acme.vlan), String(acme.vlan), String(blue.vlan)]);
    expect(lab.reaches(machines.a1.lane, machines.a2.lane, true)).toBe(true);
    expect(lab.ping(machines.b.lane, machines.a1.lane.address)).toBe(false);
    expect((await api<FabricStatus>('GET', '/api/v1/fabric')).cablingWarnings).toEqual([]);
  });

  it("keeps a port on its tenant's VLAN when another tenant's node claims it with its own credential, and warns and alerts", async () => {
    const { a1, a2, b } = machines;
    const claim = [{ mac: '02:00:00:00:0b:02', port: a1.lane.port }];
    // The tenant's root on node b: UpdateInventory, then a re-Register, both with b's real node credential.
    await agentClient.client.updateInventory({ inventory: registration(b, claim).inventory }, { metadata: nodeMetadata(b) });
    const again = await agentClient.client.register(registration(b, claim), { metadata: nodeMetadata(b) });
    expect(again.nodeId).toBe(b.nodeId);
    b.credential = again.nodeCredential;

    const claimOnA1 = (w: string) => w.includes(`lab/${a1.lane.port}`) && w.includes(`node ${b.nodeId}`) && w.includes(`node ${a1.nodeId}`);
    const fabric = await eventually(() => api<FabricStatus>('GET', '/api/v1/fabric'), (f) => f.cablingWarnings.some(claimOnA1));
    expect(fabric.cablingWarnings.filter(claimOnA1)).toEqual([expect.stringContaining("LLDP from the node's own OS (not trusted)")]);
    // Nothing changed on the switch: a later pass (the warning was found by one) leaves a1 where it was.
    await eventually(() => api<FabricStatus>('GET', '/api/v1/fabric'), (f) => f.checkedAt !== fabric.checkedAt);
    expect(tag(a1.lane)).toBe(String(acme.vlan));
    expect(tag(b.lane)).toBe(String(blue.vlan));
    expect(lab.reaches(a1.lane, a2.lane, true)).toBe(true);
    expect(lab.ping(b.lane, a1.lane.address)).toBe(false);

    const alerts = await eventually(() => api<Alerts>('GET', '/api/v1/alerts'), (l) => l.items.some((a) => a.rule === 'cabling-conflict' && a.labels['port'] === a1.lane.port && a.state === 'firing'));
    const alert = alerts.items.find((a) => a.rule === 'cabling-conflict' && a.labels['port'] === a1.lane.port);
    expect(alert?.labels).toMatchObject({ switch: 'lab', node: b.nodeId });
    expect(alert?.nodes.slice().sort()).toEqual([a1.nodeId, b.nodeId].sort());
  });

  it("keeps the port with its first trusted claim even when a later registration in the manager's image hears it; only the operator moves it", async () => {
    const { a1, b } = machines;
    // A new machine discovered in the manager's image (a bootstrap token) hears a1's port: a trusted claim, but a1's port is already mapped.
    // (A known node's own re-registration with a token alone waits for an operator's approval: see test/e2e/identity.test.ts.)
    const mac = '02:00:00:00:0c:01';
    await agentClient.client.register({
      identity: { systemUuid: 'c0ffee00-0000-4000-8000-00000000000c', macs: [mac] },
      inventory: { system: { hostname: 'newcomer' }, nics: [{ name: 'eth0', mac, speedMbps: 1000, linkUp: true, driver: 'veth', firmware: '', physical: true, neighbor: { switchName: 'lab', switchId: '', portId: a1.lane.port, portDescription: '' } }] },
      agentVersion: 'test', bootstrapToken: readFileSync(manager.tokenFile, 'utf8').trim(),
    });
    await eventually(() => api<FabricStatus>('GET', '/api/v1/fabric'), (f) => f.cablingWarnings.some((w) => w.includes(`lab/${a1.lane.port}`) && w.includes("LLDP from the manager's image")));
    expect(tag(a1.lane)).toBe(String(acme.vlan));

    // The operator re-plans the port: now it moves.
    await api('PUT', `/api/v1/fabric/links/lab/${a1.lane.port}`, { nodeId: b.nodeId, mac: '02:00:00:00:0b:02' });
    await eventually(async () => tag(a1.lane), (t) => t === String(blue.vlan), 10_000);
  });

  it("keeps a port with its node after the node re-registers in the manager's image without LLDP; a new machine's claim on it is a warning", async () => {
    const { a2 } = machines;
    const holder = (f: FabricStatus) => f.ports.find((p) => p.switchName === 'lab' && p.port === a2.lane.port)?.nodeId;
    expect(holder(await api<FabricStatus>('GET', '/api/v1/fabric'))).toBe(a2.nodeId);
    // a2 is reimaged: its agent (here: a client with its credential) acks the reboot, and the install image it boots
    // registers with the install token from its boot script, as the manager's image does, but with an inventory without LLDP.
    const images = `${manager.boot}/images`;
    await api('PUT', '/api/v1/images/lab-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: 'ab'.repeat(32), cmdline: '' });
    const agent = await mqtt.connectAsync(mqttUrl, { clientId: a2.nodeId, username: a2.nodeId, password: a2.credential, ca: ca(), reconnectPeriod: 0 });
    try {
      await agent.subscribeAsync(`mf/v1/nodes/${a2.nodeId}/commands`, { qos: 1 });
      agent.on('message', (_topic, payload) => {
        const command = fromBinary(CommandSchema, payload);
        for (const [phase, message] of [[CommandPhase.ACKED, 'received'], [CommandPhase.RUNNING, 'rebooting']] as const) {
          void agent.publishAsync(`mf/v1/nodes/${a2.nodeId}/progress`, Buffer.from(toBinary(CommandProgressSchema, create(CommandProgressSchema, {
            commandId: command.commandId, at: timestampFromDate(new Date()), phase, message, verifiedSha256: '',
          }))), { qos: 1 });
        }
      });
      const op = await api<Operation>('POST', `/api/v1/nodes/${a2.nodeId}/reimage`, { image: 'lab-os@1.0' });
      await eventually(() => api<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.nodes[0]?.phase === 'installing', 30_000);
    } finally {
      await agent.endAsync(true);
    }
    const script = await (await fetch(`${manager.boot}/boot/ipxe?mac=${encodeURIComponent(a2.lane.mac)}`)).text();
    const installToken = /metalfleet\.token=(\S+)/.exec(script)?.[1] ?? '';
    expect(installToken).not.toBe('');
    const withoutLldp = registration(a2);
    withoutLldp.inventory.nics = withoutLldp.inventory.nics.map((n) => ({ ...n, neighbor: { switchName: '', switchId: '', portId: '', portDescription: '' } }));
    const reinstalled = await agentClient.client.register({ ...withoutLldp, bootstrapToken: installToken });
    expect([reinstalled.nodeId, reinstalled.returning]).toEqual([a2.nodeId, true]);

    // Then a new machine in the manager's image claims a2's port: a trusted claim, but the port is a2's and stays so.
    const mac = '02:00:00:00:0d:01';
    await agentClient.client.register({
      identity: { systemUuid: 'c0ffee00-0000-4000-8000-00000000000d', macs: [mac] },
      inventory: { system: { hostname: 'port-thief' }, nics: [{ name: 'eth0', mac, speedMbps: 1000, linkUp: true, driver: 'veth', firmware: '', physical: true, neighbor: { switchName: 'lab', switchId: '', portId: a2.lane.port, portDescription: '' } }] },
      agentVersion: 'test', bootstrapToken: readFileSync(manager.tokenFile, 'utf8').trim(),
    });
    const thief = (await api<NodeList>('GET', '/api/v1/nodes')).items.find((n) => n.hostname === 'port-thief');
    const onA2 = (w: string) => w.includes(`lab/${a2.lane.port}`) && w.includes(`node ${thief?.id ?? '?'}`) && w.includes(`node ${a2.nodeId}`);
    const fabric = await eventually(() => api<FabricStatus>('GET', '/api/v1/fabric'), (f) => f.cablingWarnings.some(onA2));
    expect(fabric.cablingWarnings.filter(onA2)).toEqual([expect.stringContaining("LLDP from the manager's image")]);
    expect(holder(fabric)).toBe(a2.nodeId);
  });
});
