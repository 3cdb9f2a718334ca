// One behavioural suite every FleetStore implementation must pass.
import { describe, expect, it } from 'vitest';
import { defaultSkuProfiles, emptyInventory, noEvidence, type HealthCondition, type NodeIdentity, type ReimageEvidence } from '@metalfleet/domain';
import type { FleetStore, NewNode } from './fleet-store.ts';
import { acceptanceRunsKept } from './acceptance-store.ts';

export interface StoreFactory {
  /** Opens the store; opening again with the same key must see the same data. */
  open(key: string): Promise<FleetStore>;
}

function identity(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

export function newNode(id: string, partial: Partial<NodeIdentity>, at = new Date('2026-11-01T00:00:00Z')): NewNode {
  const inventory = emptyInventory();
  inventory.system.hostname = `host-${id}`;
  inventory.collectedAt = at;
  return { id, hostname: `host-${id}`, identity: identity(partial), inventory, agentVersion: '0.1.0', credentialHash: `hash-${id}`, at };
}

export function describeFleetStore(name: string, factory: StoreFactory): void {
  describe(`FleetStore on ${name}`, () => {
    it('finds a node by UUID, by any serial and by any MAC, and nothing else', async () => {
      const store = await factory.open('candidates');
      await store.createNode(newNode('n1', { systemUuid: 'UUID-1', systemSerial: 'S1', macs: ['aa:bb:cc:00:00:01'] }));
      await store.createNode(newNode('n2', { boardSerial: 'B2', macs: ['aa:bb:cc:00:00:02', 'aa:bb:cc:00:00:03'] }));
      const ids = async (p: Partial<NodeIdentity>) => (await store.findIdentityCandidates(identity(p))).map((c) => c.nodeId).sort();
      expect(await ids({ systemUuid: 'uuid-1' })).toEqual(['n1']);
      expect(await ids({ chassisSerial: 'S1' })).toEqual(['n1']);
      expect(await ids({ systemSerial: 'B2' })).toEqual(['n2']);
      expect(await ids({ boardSerial: 'b2' })).toEqual(['n2']);
      expect(await ids({ systemUuid: '{UUID-1}', macs: ['aabb.cc00.0003'] })).toEqual(['n1', 'n2']);
      expect(await ids({ macs: ['AA:BB:CC:00:00:03'] })).toEqual(['n2']);
      expect(await ids({ systemUuid: 'uuid-1', macs: ['aa:bb:cc:00:00:02'] })).toEqual(['n1', 'n2']);
      expect(await ids({ systemUuid: 'nobody' })).toEqual([]);
      await store.close();
    });

    it('keeps nodes, inventory and presence across a restart', async () => {
      const first = await factory.open('restart');
      await first.createNode(newNode('n1', { systemUuid: 'uuid-r', macs: ['aa:bb:cc:00:00:09'] }));
      await first.setPresence('n1', 'online', new Date('2026-11-01T00:01:00Z'));
      await first.close();
      const second = await factory.open('restart');
      const node = await second.getNode('n1');
      expect(node).toMatchObject({ id: 'n1', hostname: 'host-n1', presence: 'online', state: 'discovered', identity: { systemUuid: 'uuid-r', macs: ['aa:bb:cc:00:00:09'] } });
      expect(node?.inventory.collectedAt).toEqual(new Date('2026-11-01T00:00:00Z'));
      expect(node).toMatchObject({ tenant: null, rack: '', gpuModel: '', gpuCount: 0 });
      if (!node) throw new Error('node n1 lost across the restart');
      const { inventory: _inventory, ...summary } = node;
      expect(await second.getNodeSummary('n1')).toEqual(summary);
      expect(await second.getNodeSummary('nope')).toBeNull();
      expect(await second.credentialHash('n1')).toBe('hash-n1');
      await second.close();
    });

    it('knows the latest time it stamped on a frequent write (how recently a manager ran), whatever the table', async () => {
      const store = await factory.open('lastwrite');
      expect(await store.lastWriteAt()).toBeNull();
      await store.createNode(newNode('n1', { systemUuid: 'u-lw' }));
      await store.markSeenMany([['n1', new Date('2026-11-01T03:00:00Z')]]);
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:00Z'));
      await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'system', reason: 'r', at: new Date('2026-11-01T03:00:05Z') });
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:05Z'));
      await store.setPresence('n1', 'offline', new Date('2026-11-01T03:00:09Z'));
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:09Z'));
      await store.close();
    });

    it('reports a presence change once, and finds online nodes gone silent', async () => {
      const store = await factory.open('presence');
      await store.createNode(newNode('n1', { systemUuid: 'u-p' }));
      expect(await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:10Z'))).toBe(true);
      expect(await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:11Z'))).toBe(false);
      await store.markSeenMany([['n1', new Date('2026-11-01T00:00:20Z')]]);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:15Z'))).toEqual([]);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:30Z'))).toEqual(['n1']);
      expect(await store.setPresence('n1', 'offline', new Date('2026-11-01T00:00:31Z'))).toBe(true);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:40Z'))).toEqual([]);
      expect(await store.setPresence('missing', 'online', new Date())).toBe(false);
      await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:41Z'));
      await store.markSeenMany([['n1', new Date('2026-11-01T00:01:00Z')], ['missing', new Date('2026-11-01T00:01:00Z')]]);
      expect((await store.getNode('n1'))?.lastSeenAt).toEqual(new Date('2026-11-01T00:01:00Z'));
      await store.markSeenMany([['n1', new Date('2026-11-01T00:00:50Z')]]);
      expect((await store.getNode('n1'))?.lastSeenAt).toEqual(new Date('2026-11-01T00:01:00Z'));
      // Heard from after it was marked offline (by another replica): named; heard from only before: not.
      await store.setPresence('n1', 'offline', new Date('2026-11-01T00:02:00Z'));
      expect(await store.markSeenMany([['n1', new Date('2026-11-01T00:01:30Z')]])).toEqual([]);
      expect(await store.markSeenMany([['n1', new Date('2026-11-01T00:02:30Z')], ['missing', new Date('2026-11-01T00:02:30Z')]])).toEqual(['n1']);
      await store.close();
    });

    it('keeps the GPU model, GPU count and rack (from LLDP) of the latest inventory with the node', async () => {
      const store = await factory.open('facts');
      const n = newNode('n1', { systemUuid: 'u-f' });
      await store.createNode(n);
      const inventory = { ...n.inventory, gpus: [0, 1].map((index) => ({ index, model: 'NVIDIA H200', uuid: `GPU-${index}`, serial: '', vbiosVersion: '', driverVersion: '', cudaVersion: '', pciBusId: '', memoryBytes: 0, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: 5, pcieCurrentWidth: 16, migMode: '', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: '' })),
        nics: [{ name: 'eth0', mac: 'aa:bb:cc:00:00:01', speedMbps: 100000, linkUp: true, driver: '', firmware: '', physical: true, neighbor: { switchName: 'leaf-07', switchId: 'x', portId: 'Ethernet4', portDescription: '' } }] };
      expect(await store.updateInventory('n1', inventory)).toBe(true);
      expect((await store.listNodes())[0]).toMatchObject({ gpuModel: 'NVIDIA H200', gpuCount: 2, rack: 'leaf-07' });
      expect(await store.updateInventory('missing', inventory)).toBe(false);
      await store.close();
    });

    it('replaces the MAC set and credential on re-registration', async () => {
      const store = await factory.open('rereg');
      await store.createNode(newNode('n1', { systemUuid: 'u-x', macs: ['aa:bb:cc:00:00:01'] }));
      await store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-x', macs: ['aa:bb:cc:00:00:02'] }), credentialHash: 'rotated' });
      expect((await store.getNode('n1'))?.identity.macs).toEqual(['aa:bb:cc:00:00:02']);
      expect(await store.credentialHash('n1')).toBe('rotated');
      expect(await store.findIdentityCandidates(identity({ macs: ['aa:bb:cc:00:00:01'] }))).toEqual([]);
      await store.close();
    });

    it('applies each health event once, and a digest replaces the set', async () => {
      const store = await factory.open('health');
      await store.createNode(newNode('n1', { systemUuid: 'u-h' }));
      const since = new Date('2026-11-01T01:00:00Z');
      const hot: HealthCondition = { component: 'gpu:0000:18:00', code: 'thermal-slowdown', severity: 'warning', remediation: 'none', message: 'hot', since };
      const x8: HealthCondition = { ...hot, code: 'pcie-width-degraded', remediation: 'replace', message: 'x8 of x16' };
      const event = (eventId: string, sequence: number, changes: Array<{ kind: 'appeared' | 'changed' | 'cleared'; condition: HealthCondition }>) =>
        ({ eventId, sequence, at: since, receivedAt: since, changes });
      expect(await store.applyHealthEvent('n1', event('e1', 1, [{ kind: 'appeared', condition: hot }, { kind: 'appeared', condition: x8 }]))).toBe(true);
      expect(await store.applyHealthEvent('n1', event('e1', 1, [{ kind: 'appeared', condition: hot }]))).toBe(false);
      expect(await store.applyHealthEvent('n1', event('e2', 2, [{ kind: 'cleared', condition: hot }]))).toBe(true);
      expect((await store.conditions('n1')).map((c) => c.code)).toEqual(['pcie-width-degraded']);
      expect((await store.healthEvents('n1', 10)).map((e) => e.eventId)).toEqual(['e1', 'e2']);
      expect((await store.healthEvents('n1', 1)).map((e) => e.eventId)).toEqual(['e2']);
      // Paged newest first: the page before the cursor, until none is left.
      const newest = await store.healthEventPage('n1', 1);
      expect(newest.events.map((e) => e.eventId)).toEqual(['e2']);
      const older = await store.healthEventPage('n1', 1, newest.next ?? undefined);
      expect(older.events.map((e) => e.eventId)).toEqual(['e1']);
      expect((await store.healthEventPage('n1', 1, older.next ?? undefined)).events).toEqual([]);
      expect(await store.healthEventPage('n1', 5)).toMatchObject({ events: [{ eventId: 'e2' }, { eventId: 'e1' }], next: null });
      expect((await store.getNode('n1'))?.health).toEqual({ severity: 'warning', remediation: 'replace', conditionCount: 1 });
      await store.createNode(newNode('n2', { systemUuid: 'u-h2' }));
      expect(await store.nodeCounts()).toEqual({ byStateAndPresence: [{ state: 'discovered', presence: 'unknown', count: 2 }], bySeverity: { ok: 1, warning: 1, critical: 0 }, conditionsBySeverity: { ok: 0, warning: 1, critical: 0 } });
      expect(await store.applyHealthEvent('unknown-node', event('e3', 3, [{ kind: 'appeared', condition: hot }]))).toBe(false);
      await store.replaceConditions('n1', [{ ...hot, severity: 'critical' }]);
      expect((await store.listNodes())[0]?.health).toEqual({ severity: 'critical', remediation: 'none', conditionCount: 1 });
      expect((await store.healthEvents('n1', 10))[0]?.changes[0]?.condition.since).toEqual(since);
      await store.close();
    });

    it('keeps each acceptance run once per command, newest first', async () => {
      const store = await factory.open('acceptance');
      await store.createNode(newNode('n1', { systemUuid: 'u-acc' }));
      const check = { name: 'nvlink', measured: 'GPU 5: 16 up', threshold: '18 up per GPU', verdict: 'fail' as const };
      const run = { nodeId: 'n1', commandId: 'c1', profile: 'hgx-h100-8', passed: false, checks: [check], outputs: [{ tool: 'nvidia-smi nvlink -s', text: 'GPU 5: …' }], at: new Date(1000) };
      expect(await store.recordAcceptance(run)).toBe(true);
      expect(await store.recordAcceptance({ ...run, passed: true })).toBe(false);
      expect(await store.recordAcceptance({ ...run, commandId: 'c2', passed: true, checks: [], profile: null, at: new Date(2000) })).toBe(true);
      expect((await store.acceptanceRuns('n1', 10)).map((r) => [r.commandId, r.passed, r.profile])).toEqual([['c2', true, null], ['c1', false, 'hgx-h100-8']]);
      expect((await store.acceptanceRuns('n1', 10))[1]).toEqual(run);
      expect(await store.acceptanceRuns('n2', 10)).toEqual([]);
      // A node reimaged and accepted again and again keeps its newest runs only (review finding: they grew without end).
      for (let i = 0; i < acceptanceRunsKept + 5; i += 1) await store.recordAcceptance({ ...run, commandId: `r${i}`, at: new Date(10_000 + i) });
      const kept = await store.acceptanceRuns('n1', 1000);
      expect(kept).toHaveLength(acceptanceRunsKept);
      expect(kept[0]?.commandId).toBe(`r${acceptanceRunsKept + 4}`);
      // The operator's SKU profiles, by name: made, replaced, removed.
      const [h100] = defaultSkuProfiles;
      await store.putSkuProfile({ ...h100!, name: 'b-profile' }, new Date(1));
      await store.putSkuProfile({ ...h100!, name: 'a-profile', nvmeCount: 2 }, new Date(1));
      await store.putSkuProfile({ ...h100!, name: 'a-profile', nvmeCount: 4 }, new Date(2));
      expect((await store.listSkuProfiles()).map((p) => [p.name, p.nvmeCount])).toEqual([['a-profile', 4], ['b-profile', 8]]);
      expect(await store.listSkuProfiles()).toContainEqual({ ...h100!, name: 'b-profile' });
      expect(await store.deleteSkuProfile('b-profile')).toBe(true);
      expect(await store.deleteSkuProfile('b-profile')).toBe(false);
      expect((await store.listSkuProfiles()).map((p) => p.name)).toEqual(['a-profile']);
      await store.close();
    });

    it('moves state only from the expected state, and keeps the history', async () => {
      const store = await factory.open('lifecycle');
      await store.createNode(newNode('n1', { systemUuid: 'u-l' }));
      const at = new Date('2026-11-01T02:00:00Z');
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'registration', reason: 'first boot', at })).toBe(true);
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'late controller', reason: 'again', at })).toBe(false);
      expect(await store.transitionNode('n1', 'inspecting', 'available', 'inspection-passed', { actor: 'inspection', reason: 'healthy', at })).toBe(true);
      expect((await store.getNode('n1'))?.state).toBe('available');
      expect(await store.history('n1')).toEqual([
        { from: 'discovered', to: 'inspecting', event: 'inspect', actor: 'registration', reason: 'first boot', at },
        { from: 'inspecting', to: 'available', event: 'inspection-passed', actor: 'inspection', reason: 'healthy', at },
      ]);
      expect(await store.transitionNode('missing', 'discovered', 'inspecting', 'inspect', { actor: 'x', reason: 'y', at })).toBe(false);
      await store.setPresence('n1', 'offline', new Date('2026-11-01T03:00:00Z'));
      expect(await store.offlineSince('available', new Date('2026-11-01T03:10:00Z'))).toEqual(['n1']);
      expect(await store.offlineSince('available', new Date('2026-11-01T02:50:00Z'))).toEqual([]);
      expect(await store.offlineSince('active', new Date('2026-11-01T03:10:00Z'))).toEqual([]);
      await store.close();
    });

    it('lists nodes in registration order and answers null for an unknown node', async () => {
      const store = await factory.open('list');
      await store.createNode(newNode('b', { systemUuid: 'u-b' }, new Date('2026-11-01T00:00:02Z')));
      await store.createNode(newNode('a', { systemUuid: 'u-a' }, new Date('2026-11-01T00:00:01Z')));
      expect((await store.listNodes()).map((n) => n.id)).toEqual(['a', 'b']);
      expect(await store.getNode('nope')).toBeNull();
      await store.close();
    });

    it('keeps tenants unique by name, VLAN and VNI, and refuses to delete one that still has nodes', async () => {
      const store = await factory.open('tenants');
      const at = new Date('2026-11-01T00:00:00Z');
      await store.createTenant({ id: 't1', name: 'acme', vlan: 101, vni: 10101, createdAt: at });
      for (const clash of [{ name: 'acme', vlan: 102, vni: 10102 }, { name: 'blue', vlan: 101, vni: 10102 }, { name: 'blue', vlan: 102, vni: 10101 }]) {
        await expect(store.createTenant({ id: 't2', ...clash, createdAt: at })).rejects.toMatchObject({ code: 'conflict' });
      }
      await store.createNode(newNode('n1', { systemUuid: 'u-t' }));
      expect(await store.setNodeTenant('n1', 't1')).toBe(true);
      expect(await store.setNodeTenant('nobody', 't1')).toBe(false);
      expect((await store.getNodeSummary('n1'))?.tenant).toBe('t1');
      await expect(store.deleteTenant('t1')).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.takeNodeFromTenant('n1', 't2')).toBe(false);
      expect(await store.takeNodeFromTenant('n1', 't1')).toBe(true);
      expect(await store.takeNodeFromTenant('n1', 't1')).toBe(false);
      expect((await store.getNodeSummary('n1'))?.tenant).toBeNull();
      // Given only to a node of no tenant: of two givers, the first.
      expect(await store.giveNodeToTenant('n1', 't1')).toBe(true);
      expect(await store.giveNodeToTenant('n1', 't1')).toBe(false);
      expect(await store.giveNodeToTenant('nobody', 't1')).toBe(false);
      expect(await store.takeNodeFromTenant('n1', 't1')).toBe(true);
      expect(await store.deleteTenant('t1')).toBe(true);
      expect(await store.deleteTenant('t1')).toBe(false);
      expect(await store.listTenants()).toEqual([]);
      await store.close();
    });

    it('keeps planned links by hand, and learned links with their source, trust and first sighting', async () => {
      const store = await factory.open('links');
      const node = newNode('n1', { systemUuid: 'u-l' });
      node.inventory.nics = [{ name: 'eth0', mac: 'AA:00:00:00:00:01', speedMbps: 1000, linkUp: true, driver: 'e1000', firmware: '', physical: true, neighbor: { switchName: 'leaf-1', switchId: '', portId: 'p1', portDescription: '' } }];
      await store.createNode(node);
      await store.createNode(newNode('n2', { systemUuid: 'u-l2' }));
      // An inventory is no cabling: only recorded links are.
      expect(await store.portLinks()).toEqual({ planned: [], learned: [] });
      await store.setPlannedLink('leaf-1', 'p2', { nodeId: 'n1', mac: 'AA:00:00:00:00:02' });
      const t1 = new Date('2026-11-01T00:00:00Z');
      const t2 = new Date('2026-11-01T01:00:00Z');
      await store.recordLearnedLinks('n1', 'lldp-manager-image', [{ nodeId: 'n1', switchName: 'leaf-1', port: 'p1', mac: 'AA:00:00:00:00:01' }], t1);
      // Another node claims the same port from its own OS: both claims are kept, the domain decides.
      await store.recordLearnedLinks('n2', 'lldp-node-os', [{ nodeId: 'n2', switchName: 'leaf-1', port: 'p1', mac: 'aa:00:00:00:00:09' }], t2);
      expect(await store.portLinks()).toEqual({
        planned: [{ switchName: 'leaf-1', port: 'p2', nodeId: 'n1', mac: 'aa:00:00:00:00:02' }],
        learned: [
          { switchName: 'leaf-1', port: 'p1', nodeId: 'n1', mac: 'aa:00:00:00:00:01', source: 'lldp-manager-image', trusted: true, since: t1 },
          { switchName: 'leaf-1', port: 'p1', nodeId: 'n2', mac: 'aa:00:00:00:00:09', source: 'lldp-node-os', trusted: false, since: t2 },
        ],
      });
      // Heard again later: still first seen at t1; a new port starts now.
      await store.recordLearnedLinks('n1', 'lldp-manager-image', [{ nodeId: 'n1', switchName: 'leaf-1', port: 'p1', mac: 'aa:00:00:00:00:01' }, { nodeId: 'n1', switchName: 'leaf-1', port: 'p7', mac: 'aa:00:00:00:00:03' }], t2);
      expect((await store.portLinks()).learned.filter((l) => l.nodeId === 'n1').map((l) => [l.port, l.since])).toEqual([['p1', t1], ['p7', t2]]);
      // A trusted claim is never removed by a later report that leaves it out (a registration without LLDP):
      // otherwise the port would be free for the next claimant. Only an operator or the node's deletion removes it.
      await store.recordLearnedLinks('n1', 'lldp-manager-image', [{ nodeId: 'n1', switchName: 'leaf-1', port: 'p7', mac: 'aa:00:00:00:00:03' }], t2);
      await store.recordLearnedLinks('n1', 'lldp-manager-image', [], t2);
      expect((await store.portLinks()).learned.map((l) => [l.nodeId, l.port, l.source, l.since])).toEqual([
        ['n1', 'p1', 'lldp-manager-image', t1], ['n2', 'p1', 'lldp-node-os', t2], ['n1', 'p7', 'lldp-manager-image', t2],
      ]);
      // An untrusted claim is only the node's latest word: the next report replaces it.
      await store.recordLearnedLinks('n2', 'lldp-node-os', [{ nodeId: 'n2', switchName: 'leaf-1', port: 'p3', mac: 'aa:00:00:00:00:09' }], t2);
      expect((await store.portLinks()).learned.filter((l) => l.nodeId === 'n2').map((l) => l.port)).toEqual(['p3']);
      await store.recordLearnedLinks('n2', 'lldp-node-os', [], t2);
      // A report from one source leaves the others' alone.
      await store.recordLearnedLinks('n1', 'lldp-node-os', [], t2);
      expect((await store.portLinks()).learned.map((l) => [l.nodeId, l.port])).toEqual([['n1', 'p1'], ['n1', 'p7']]);
      // The operator removes what maps a port: its plan and every claim on it, trusted ones too; other ports keep theirs.
      await store.setPlannedLink('leaf-1', 'p1', { nodeId: 'n2', mac: 'aa:00:00:00:00:09' });
      await store.forgetPort('leaf-1', 'p1');
      expect((await store.portLinks()).planned.map((l) => l.port)).toEqual(['p2']);
      expect((await store.portLinks()).learned.map((l) => [l.nodeId, l.port])).toEqual([['n1', 'p7']]);
      await store.setPlannedLink('leaf-1', 'p2', null);
      expect((await store.portLinks()).planned).toEqual([]);
      await store.close();
    });
    it('keeps images, templates and BMCs, and refuses a second template of the same name', async () => {
      const store = await factory.open('catalog');
      const at = new Date('2026-11-01T00:00:00Z');
      const image = { name: 'ubuntu', version: '24.04', kernelUrl: 'http://i/k', initrdUrl: 'http://i/i', rootUrl: 'http://i/r', sha256: 'AB'.repeat(32), cmdline: 'quiet' };
      await store.putImage(image, at);
      await store.putImage({ ...image, rootUrl: 'http://i/r2' }, at);
      expect(await store.listImages()).toEqual([{ ...image, rootUrl: 'http://i/r2', sha256: 'ab'.repeat(32) }]);
      expect(await store.getImage({ name: 'ubuntu', version: '22.04' })).toBeNull();
      expect(await store.deleteImage({ name: 'ubuntu', version: '24.04' })).toBe(true);
      expect(await store.deleteImage({ name: 'ubuntu', version: '24.04' })).toBe(false);
      const template = { id: 'tp1', name: 'train-64', image: { name: 'ubuntu', version: '24.04' }, profile: { gpuModel: 'H100', gpuCount: 8, minMemoryBytes: 1 }, tenantId: 't1', nodeCount: 64, createdAt: at };
      await store.createTemplate(template);
      await expect(store.createTemplate({ ...template, id: 'tp2' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.getTemplate('tp1')).toEqual(template);
      expect(await store.listTemplates()).toEqual([template]);
      expect(await store.deleteTemplate('tp1')).toBe(true);
      await store.createNode(newNode('n1', { systemUuid: 'u-bmc' }));
      const bmc = { driver: 'ipmi' as const, address: '127.0.0.2', port: 623, username: 'admin', password: 'secret', cipherSuite: 3, https: true, insecureTls: false };
      await store.setBmc('n1', bmc);
      expect(await store.getBmc('n1')).toEqual(bmc);
      expect(await store.listBmcs()).toEqual([{ nodeId: 'n1', bmc }]);
      // Rewriting the files keeps every row.
      await store.purgeOverwrittenSecrets();
      expect(await store.getBmc('n1')).toEqual(bmc);
      await store.setBmc('n1', null);
      expect(await store.getBmc('n1')).toBeNull();
      await store.close();
    });

    it('keeps API tokens (revoked once) and an audit log read newest first, in pages', async () => {
      const store = await factory.open('access');
      const at = new Date('2026-11-21T10:00:00Z');
      const token = { id: 'tok12345', name: 'ci', role: 'operator' as const, tenantId: 't1', secretHash: 'h', createdAt: at, expiresAt: null, revokedAt: null, lastUsedAt: null };
      await store.createApiToken(token);
      await store.touchApiToken('tok12345', at);
      expect(await store.getApiToken('tok12345')).toEqual({ ...token, lastUsedAt: at });
      expect(await store.revokeApiToken('tok12345', at)).toBe(true);
      expect(await store.revokeApiToken('tok12345', at)).toBe(false);
      expect(await store.revokeApiToken('nobody', at)).toBe(false);
      expect((await store.listApiTokens()).map((t) => t.revokedAt)).toEqual([at]);
      for (const status of [200, 403, 201]) {
        await store.appendAudit({ at, tokenId: 'tok12345', actor: 'ci', method: 'POST', route: 'POST /api/v1/x', target: '/api/v1/x', status, error: status === 403 ? 'no' : '' });
      }
      await store.appendAudit({ at, tokenId: 'tok12345', actor: 'ci', method: 'PUT', route: 'PUT /api/v1/nodes/:id/bmc', target: '/api/v1/nodes/n1/bmc', status: 200, error: '', detail: 'node n1 bmc ipmi 10.1.0.7:623 user admin' });
      expect((await store.listAudit({ limit: 1 }))[0]?.detail).toBe('node n1 bmc ipmi 10.1.0.7:623 user admin');
      const page = (await store.listAudit({ limit: 3 })).slice(1);
      expect(page.map((e) => [e.status, e.detail])).toEqual([[201, ''], [403, '']]);
      expect((await store.listAudit({ limit: 2, before: page[1]?.seq ?? 0 })).map((e) => e.status)).toEqual([200]);
      await store.close();
    });

    it('keeps failure events once each, with their cohorts, and reads them from a time on', async () => {
      const store = await factory.open('failures');
      const cohorts = { fleet: 'fleet', pool: 'spares', rack: 'r1', tenant: 'none', vendor: 'v', model: 'm', gpuModel: 'H100', bios: 'b', vbios: 'vb', driver: 'd', firmware: 'f' };
      const at = new Date('2026-11-21T10:00:00Z');
      const event = { nodeId: 'n1', kind: 'critical-condition' as const, code: 'xid-79', at, cohorts };
      expect(await store.recordFailure(event)).toBe(true);
      expect(await store.recordFailure(event)).toBe(false);
      await store.recordFailure({ ...event, at: new Date(at.getTime() - 3_600_000) });
      expect(await store.failuresSince(new Date(at.getTime() - 60_000))).toEqual([event]);
      expect(await store.failuresSince(new Date(0))).toHaveLength(2);
      expect((await store.failuresOf('n1')).map((f) => f.at)).toEqual([new Date(at.getTime() - 3_600_000), at]);
      expect(await store.failuresOf('n2')).toEqual([]);
      await store.close();
    });

    it('keeps BMC enrollments until a machine with one of their MACs claims them, once', async () => {
      const store = await factory.open('enrollments');
      const bmc = { driver: 'ipmi' as const, address: '127.0.0.3', port: 623, username: 'admin', password: 'secret', cipherSuite: 3, https: true, insecureTls: false };
      const at = new Date('2026-11-21T10:00:00Z');
      await store.putEnrollment({ mac: '52:54:00:AA:00:01', bmc, createdAt: at, nodeId: null, claimedAt: null });
      expect(await store.claimEnrollment(['02:00:00:00:00:09'], 'n1', at)).toBeNull();
      expect(await store.claimEnrollment(['02:00:00:00:00:09', '52:54:00:aa:00:01'], 'n7', at)).toMatchObject({ mac: '52:54:00:aa:00:01', bmc, nodeId: 'n7' });
      expect(await store.claimEnrollment(['52:54:00:aa:00:01'], 'n8', at)).toBeNull();
      expect(await store.listEnrollments()).toEqual([{ mac: '52:54:00:aa:00:01', bmc, createdAt: at, nodeId: 'n7', claimedAt: at }]);
      await store.close();
    });

    it('keeps operations with their nodes\' phases, and the command outbox, across a restart', async () => {
      const first = await factory.open('operations');
      const at = new Date('2026-11-01T00:00:00Z');
      const op = { id: 'op1', kind: 'reimage' as const, state: 'running' as const, image: { name: 'ubuntu', version: '24.04' }, priority: 0, urgent: false, actor: 'test', reason: 'r', createdAt: at, updatedAt: at };
      const nodes = Array.from({ length: 450 }, (_, i) => ({
        operationId: 'op1', nodeId: `n${i}`, position: i, rack: `r${i % 5}`, tenant: null, progress: { phase: 'queued' as const, powerCycles: 0, deadlineAt: null, message: 'waiting', evidence: noEvidence(), failure: null }, commandId: null, updatedAt: at,
      }));
      // What the manager saw of the node's reboot survives a restart with it.
      const evidence: ReimageEvidence = {
        rebootBy: 'bmc', rebootAckedAt: new Date('2026-11-01T00:01:00Z'), powerCycledAt: new Date('2026-11-01T00:01:01Z'),
        installBoot: { at: new Date('2026-11-01T00:01:30Z'), peer: '10.0.0.7' }, installRegisteredAt: null, missing: 'install-boot', proof: null,
        refused: { at: new Date('2026-11-01T00:01:40Z'), step: 'boot-script', peer: '10.0.0.66', reason: 'a second request for the install script' },
      };
      await first.createOperation(op, nodes);
      const deadline = new Date('2026-11-01T00:05:00Z');
      await first.saveOperationNode('op1', 'n1', { phase: 'rebooting', powerCycles: 1, deadlineAt: deadline, message: 'rebooting', evidence, failure: null }, 'c1', at);
      await first.saveOperationNode('op1', 'n2', { phase: 'done', powerCycles: 0, deadlineAt: null, message: 'reimaged', evidence: { ...noEvidence(), rebootBy: 'agent', proof: 'agent-only' }, failure: null }, null, at);
      const reimageArgs = { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot/ipxe?mac=x', powerCycledByBmc: false };
      await first.createCommand({
        id: 'c1', nodeId: 'n1', operationId: 'op1', kind: 'reimage', args: reimageArgs, state: 'pending', attempts: 0, ackDeadlineAt: null,
        message: '', verifiedSha256: '', createdAt: at, updatedAt: at,
      });
      expect(await first.updateCommand('c1', ['pending'], { state: 'sent', attempts: 1, ackDeadlineAt: deadline }, at)).toBe(true);
      expect(await first.updateCommand('c1', ['pending'], { state: 'sent' }, at)).toBe(false);
      await first.close();

      const second = await factory.open('operations');
      expect(await second.getOperation('op1')).toEqual(op);
      const open = await second.openOperationNodes();
      expect(open).toHaveLength(449);
      expect(open[1]).toMatchObject({ nodeId: 'n1', progress: { phase: 'rebooting', powerCycles: 1, deadlineAt: deadline, evidence }, commandId: 'c1', operation: { id: 'op1' } });
      expect(open[0]?.progress.evidence).toEqual(noEvidence());
      expect((await second.operationNodes('op1')).map((n) => n.nodeId).slice(0, 3)).toEqual(['n0', 'n1', 'n2']);
      expect((await second.operationNodes('op1'))[2]?.progress.evidence).toMatchObject({ rebootBy: 'agent', proof: 'agent-only' });
      expect(await second.openCommands()).toEqual([expect.objectContaining({ id: 'c1', state: 'sent', attempts: 1, ackDeadlineAt: deadline, kind: 'reimage', args: reimageArgs })]);
      expect((await second.commandsOf('n1', 10)).map((c) => c.id)).toEqual(['c1']);
      expect(await second.commandsOf('n2', 10)).toEqual([]);
      expect(await second.updateCommand('c1', ['sent', 'acked'], { state: 'succeeded', verifiedSha256: 'ab' }, at)).toBe(true);
      expect(await second.openCommands()).toEqual([]);
      await second.finishOperation('op1', 'succeeded', at);
      expect(await second.openOperationNodes()).toEqual([]);
      expect((await second.listOperations(10)).map((o) => o.state)).toEqual(['succeeded']);
      await second.close();
    });
  });
}
