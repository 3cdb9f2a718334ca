// A node's evidence for its hardware vendor (an RMA ticket): one .tar.gz with
// what the vendor asks for and the manager knows — the node's identity and
// the serials and firmware of its parts, its conditions, every health event
// it raised and cleared, its failures and its lifecycle history (repairs,
// retries, who and why). Not for tenant-scoped tokens: serials and firmware
// are the fleet's. A node's health events are its agent's words (a tenant is
// root there and can send thousands of the largest): the bundle keeps the
// newest within a byte budget and says what it left out, and bundles are made
// one at a time.
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pack } from 'tar-stream';
import { ApiError, NodeIdParams } from '@metalfleet/api';
import { Type } from 'typebox';
import { DomainError, gpuStateOutput } from '@metalfleet/domain';
import type { AcceptanceRun, FleetStore } from '@metalfleet/store';
import { needs, principalOf } from './access.ts';

export interface EvidenceRouteDeps {
  store: Pick<FleetStore, 'getNode' | 'conditions' | 'healthEventPage' | 'history' | 'failuresOf' | 'acceptanceRuns'>;
  now: () => Date;
}

/** The health events' file holds the newest events up to this many bytes of JSON (one event may pass it). */
export const healthEventBytes = 8 * 1024 * 1024;
/** Bundles that may wait for the one being made; more at once are told to come back (each waiting one holds a request). */
export const evidenceQueue = 4;
/** Acceptance runs kept, newest first (each with its tools' outputs, at most a few hundred kB). */
const maxAcceptanceRuns = 10;
/** Events read from the store at a time (each at most a few hundred kilobytes). */
const eventPage = 20;

/** The node's health events, newest first, while they fit in the budget; and whether older ones were left out. */
async function newestHealthEvents(store: EvidenceRouteDeps['store'], nodeId: string): Promise<{ json: string; kept: number; leftOut: boolean }> {
  const parts: string[] = [];
  let bytes = 0;
  let before: number | undefined;
  for (;;) {
    const page = await store.healthEventPage(nodeId, eventPage, before);
    for (const event of page.events) {
      if (bytes >= healthEventBytes) return { json: `[\n${parts.join(',\n')}\n]\n`, kept: parts.length, leftOut: true };
      const text = JSON.stringify(event, null, 2);
      parts.push(text);
      bytes += Buffer.byteLength(text);
    }
    if (page.next === null) return { json: parts.length === 0 ? '[]\n' : `[\n${parts.join(',\n')}\n]\n`, kept: parts.length, leftOut: false };
    before = page.next;
  }
}

/** A name from the node (its hostname, its agent's word) as plain printable text: no terminal escape reaches a reader. */
const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, '?');

/** The GPU states' XML a bundle holds at most, all runs together (10 runs of an 8-GPU node: about 2.3 MB). */
const gpuStateBundleBytes = 8 * 1024 * 1024;
const gunzipAsync = promisify(gunzip);

/** The XML without DOCTYPE declarations (where a document declares entities), in one pass: no pattern that backtracks. */
export function withoutDoctype(xml: string): string {
  const upper = xml.toUpperCase();
  let out = '';
  let from = 0;
  for (;;) {
    const start = upper.indexOf('<!DOCTYPE', from);
    if (start < 0) return out + xml.slice(from);
    out += xml.slice(from, start);
    const close = xml.indexOf('>', start);
    const bracket = xml.indexOf('[', start);
    const end = bracket >= 0 && (close < 0 || bracket < close) ? xml.indexOf('>', Math.max(xml.indexOf(']', bracket), bracket)) : close;
    if (end < 0) return out; // unterminated: nothing after it is a document
    from = xml.startsWith('\r\n', end + 1) ? end + 3 : xml.startsWith('\n', end + 1) ? end + 2 : end + 1;
  }
}

/**
 * Each run's GPU state (`nvidia-smi -q -x`, sent compressed) as an XML file of its own, named by the run's time; the
 * run's output then names the file. The node's word (a tenant is root there): one a run (the wire refuses more),
 * decoded off the event loop within `maxXmlBytes` each and `gpuStateBundleBytes` in all, its DOCTYPE (where entities
 * would be declared) dropped; what is not gzip, or past the bounds, stays as it came, in acceptance.json.
 */
async function gpuStateFiles(runs: readonly AcceptanceRun[]): Promise<{ runs: AcceptanceRun[]; files: Array<[string, string]> }> {
  const files: Array<[string, string]> = [];
  let bytes = 0;
  const shown: AcceptanceRun[] = [];
  for (const run of runs) {
    const name = `nvidia-smi/${run.at.toISOString().replace(/[:.]/g, '-')}-${run.commandId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80)}.xml`;
    let decoded = false;
    const outputs = [];
    for (const output of run.outputs) {
      if (output.tool !== gpuStateOutput.tool || decoded || bytes >= gpuStateBundleBytes) {
        outputs.push(output);
        continue;
      }
      decoded = true;
      try {
        const xml = (await gunzipAsync(Buffer.from(output.text, 'base64'), { maxOutputLength: gpuStateOutput.maxXmlBytes })).toString('utf8');
        bytes += xml.length;
        files.push([name, withoutDoctype(xml)]);
        outputs.push({ tool: 'nvidia-smi -q -x', text: `in ${name}` });
      } catch {
        outputs.push(output);
      }
    }
    shown.push({ ...run, outputs });
  }
  return { runs: shown, files };
}

/** The bundle's files, by name. */
async function evidenceFiles(store: EvidenceRouteDeps['store'], nodeId: string, generatedAt: Date, by: string): Promise<Map<string, string> | null> {
  const node = await store.getNode(nodeId);
  if (!node) return null;
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const { inventory } = node;
  const events = await newestHealthEvents(store, node.id);
  const acceptance = await gpuStateFiles(await store.acceptanceRuns(node.id, maxAcceptanceRuns));
  return new Map([
    ['README.txt', [
      `Evidence for node ${printable(node.hostname)} (${node.id}), made by metalfleet-manager at ${generatedAt.toISOString()} for ${printable(by)}.`,
      '',
      'parts.json            system, BIOS and BMC firmware; each GPU (serial, VBIOS, driver, PCI), NIC (firmware), disk (serial, firmware), DIMM (serial)',
      'conditions.json       the node\'s conditions now (component, code, severity, message, since)',
      events.leftOut
        ? `health-events.json    the newest ${events.kept} health events, as its agent reported them, newest first; older ones left out (over ${healthEventBytes / 1024 / 1024} MiB)`
        : 'health-events.json    every condition it raised and cleared, as its agent reported them, newest first',
      '                      (each raised condition with the kernel lines that raised it, where there were some: "evidence")',
      'failures.json         its recorded failures',
      'history.json          its lifecycle: failures, repairs (with tickets), retries, reimages; who and why',
      'acceptance.json       its acceptance runs, newest first: each check (measured, threshold, verdict) and the tools\' own outputs',
      'nvidia-smi/<at>.xml   the GPUs\' whole state at the end of each acceptance run as the node\'s agent reported it (its nvidia-smi -q -x, DOCTYPE',
      '                      removed): serials, ECC, remapped rows, clocks, PCIe',
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
    ['health-events.json', events.json],
    ['failures.json', json(await store.failuresOf(node.id))],
    ['history.json', json(await store.history(node.id))],
    ['acceptance.json', json(acceptance.runs)],
    ...acceptance.files,
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
  // One bundle at a time: each may hold its budget of events in memory, and operators ask for a few a day. A few more
  // wait their turn; past that the caller is told to come back, so that requests in a loop pile up nowhere.
  let previous: Promise<unknown> = Promise.resolve();
  let open = 0;
  const oneAtATime = <T>(make: () => Promise<T>): Promise<T> => {
    if (open > evidenceQueue) throw new DomainError('unavailable', `busy: ${open} evidence bundles are being made or waiting; try again in a few seconds`, { forClients: true });
    open += 1;
    const turn = previous.then(make, make).finally(() => (open -= 1));
    previous = turn.catch(() => undefined);
    return turn;
  };
  app.get('/api/v1/nodes/:id/evidence', {
    schema: {
      ...needs('fleet:read'), summary: 'A node\'s evidence for its vendor (RMA): parts with serials and firmware, conditions, health events, failures, history; a .tar.gz',
      params: NodeIdParams,
      response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'application/gzip: a tar archive' }), 400: ApiError, 403: ApiError, 404: ApiError, 503: ApiError },
    },
  }, async (request, reply) => {
    const at = now();
    const archive = await oneAtATime(async () => {
      const files = await evidenceFiles(store, request.params.id, at, principalOf(request).name);
      return files ? tarGz(files, at) : null;
    });
    if (!archive) throw new DomainError('not-found', `no node ${request.params.id}`);
    const name = `evidence-${request.params.id.replace(/[^A-Za-z0-9._-]/g, '_')}-${at.toISOString().slice(0, 10)}.tar.gz`;
    return reply.header('content-type', 'application/gzip').header('content-disposition', `attachment; filename="${name}"`).send(archive);
  });
};
