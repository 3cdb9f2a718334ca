// The records a FleetStore keeps beside its nodes (tenants, links, images and templates, tokens and the audit log,
// failures, enrollments, operations): one behavioural suite every implementation must pass (fleet-store.contract.ts
// holds the nodes').
import { describe, expect, it } from 'vitest';
import { noEvidence, type ReimageEvidence } from '@metalfleet/domain';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';

export function describeFleetRecords(name: string, factory: StoreFactory): void {
  describe(`FleetStore records on ${name}`, () => {
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
