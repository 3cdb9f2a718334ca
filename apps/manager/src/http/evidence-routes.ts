// A node's evidence for its hardware vendor (an RMA ticket): one .tar.gz with
// what the vendor asks for and the manager knows — the node's identity and
// the serials and firmware of its parts, its conditions, every health event
// it raised and cleared, its failures and its lifecycle history (repairs,
// retries, who and why). Not for tenant-scoped tokens: serials and firmware
// are the fleet's.
import { createGzip } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pack } from 'tar-stream';
import { ApiError, NodeIdParams } from '@metalfleet/api';
import { Type } from 'typebox';
import { DomainError } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { needs, principalOf } from './access.ts';

export interface EvidenceRouteDeps {
  store: Pick<FleetStore, 'getNode' | 'conditions' | 'healthEvents' | 'history' | 'failuresOf'>;
  now: () => Date;
}

/** Every health event the node raised and cleared, newest first, up to this many. */
const maxHealthEvents = 10_000;

/** The bundle's files, by name. */
async function evidenceFiles(store: EvidenceRouteDeps['store'], nodeId: string, generatedAt: Date, by: string): Promise<Map<string, string> | null> {
  const node = await store.getNode(nodeId);
  if (!node) return null;
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const { inventory } = node;
  return new Map([
    ['README.txt', [
      `Evidence for node ${node.hostname} (${node.id}), made by metalfleet-manager at ${generatedAt.toISOString()} for ${by}.`,
      '',
      'parts.json            system, BIOS and BMC firmware; each GPU (serial, VBIOS, driver, PCI), NIC (firmware), disk (serial, firmware), DIMM (serial)',
      'conditions.json       the node\'s conditions now (component, code, severity, message, since)',
      'health-events.json    every condition it raised and cleared, as its agent reported them, newest first',
      'failures.json         its recorded failures',
      'history.json          its lifecycle: failures, repairs (with tickets), retries, reimages; who and why',
      '',
    ].join('\n')],
    ['parts.json', json({
      node: { id: node.id, hostname: node.hostname, state: node.state, rack: node.rack, identity: node.identity, agentVersion: node.agentVersion },
      system: inventory.system, os: inventory.os,
      gpus: inventory.gpus.map((g) => ({ index: g.index, model: g.model, serial: g.serial, uuid: g.uuid, vbios: g.vbiosVersion, driver: g.driverVersion, pciBusId: g.pciBusId })),
      nics: inventory.nics.filter((n) => n.physical).map((n) => ({ name: n.name, mac: n.mac, driver: n.driver, firmware: n.firmware, speedMbps: n.speedMbps })),
      disks: inventory.disks.map((d) => ({ name: d.name, model: d.model, serial: d.serial, firmware: d.firmware, sizeBytes: d.sizeBytes })),
      dimms: inventory.memory.dimms, inventoryCollectedAt: inventory.collectedAt,
    })],
    ['conditions.json', json(await store.conditions(node.id))],
    ['health-events.json', json(await store.healthEvents(node.id, maxHealthEvents))],
    ['failures.json', json(await store.failuresOf(node.id))],
    ['history.json', json(await store.history(node.id))],
  ]);
}

async function tarGz(files: Map<string, string>, mtime: Date): Promise<Buffer> {
  const tar = pack();
  const gzip = createGzip();
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
    tar.on('error', reject);
  });
  tar.pipe(gzip);
  for (const [name, text] of files) tar.entry({ name, mtime, mode: 0o644 }, text);
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const evidenceRoutes: FastifyPluginAsyncTypebox<EvidenceRouteDeps> = async (app, { store, now }) => {
  app.get('/api/v1/nodes/:id/evidence', {
    schema: {
      ...needs('fleet:read'), summary: 'A node\'s evidence for its vendor (RMA): parts with serials and firmware, conditions, health events, failures, history; a .tar.gz',
      params: NodeIdParams,
      response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'application/gzip: a tar archive' }), 400: ApiError, 403: ApiError, 404: ApiError },
    },
  }, async (request, reply) => {
    const at = now();
    const files = await evidenceFiles(store, request.params.id, at, principalOf(request).name);
    if (!files) throw new DomainError('not-found', `no node ${request.params.id}`);
    const name = `evidence-${request.params.id.replace(/[^A-Za-z0-9._-]/g, '_')}-${at.toISOString().slice(0, 10)}.tar.gz`;
    return reply.header('content-type', 'application/gzip').header('content-disposition', `attachment; filename="${name}"`).send(await tarGz(files, at));
  });
};
