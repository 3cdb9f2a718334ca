// GET /api/v1/nodes/:id/evidence: one .tar.gz an operator attaches to a
// vendor's ticket, with the parts' serials and firmware, conditions, health
// events, failures and history.
import { gunzipSync, gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyInventory, gpuStateOutput } from '@metalfleet/domain';
import { evidenceQueue, healthEventBytes, withoutDoctype } from './evidence-routes.ts';
import { startTestApp, testTime, type TestApp } from './test-app.ts';

let t: TestApp;

async function untar(gz: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => { files.set(header.name, Buffer.concat(chunks).toString('utf8')); next(); });
  });
  await new Promise<void>((resolve, reject) => {
    tar.on('finish', resolve);
    tar.on('error', reject);
    Readable.from([gunzipSync(gz)]).pipe(tar);
  });
  return files;
}

beforeAll(async () => {
  t = await startTestApp();
  const inventory = emptyInventory();
  inventory.gpus = [{ index: 3, model: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-3', serial: '1650924060621', vbiosVersion: '96.00.99.00.01', driverVersion: '570.124.06',
    cudaVersion: '12.8', pciBusId: '0000:9b:00.0', memoryBytes: 80 * 1024 ** 3, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: 5, pcieCurrentWidth: 16, migMode: 'Disabled', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: 'Enabled' }];
  inventory.system.hostname = 'host-n1';
  await t.store.updateInventory('n1', inventory);
  const condition = { component: 'gpu:0000:9b:00', code: 'xid-79', severity: 'critical' as const, remediation: 'replace' as const, message: 'GPU has fallen off the bus', since: testTime };
  await t.store.applyHealthEvent('n1', { eventId: 'e-1', sequence: 1, at: testTime, receivedAt: testTime, changes: [{ kind: 'appeared', condition }] });
  await t.store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'registration', reason: 'registered', at: testTime });
  await t.store.transitionNode('n1', 'inspecting', 'failed', 'inspection-failed', { actor: 'inspection', reason: 'gpu:0000:9b:00 xid-79', at: testTime });
});

afterAll(async () => {
  await t.close();
});

describe('GET /api/v1/nodes/:id/evidence', () => {
  it('bundles the failed GPU\'s serial and firmware, the Xid condition and its event, and the history', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/nodes/n1/evidence' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-disposition']).toBe('attachment; filename="evidence-n1-2026-11-21.tar.gz"');
    const files = await untar(res.rawPayload);
    expect([...files.keys()]).toEqual(['README.txt', 'parts.json', 'conditions.json', 'health-events.json', 'failures.json', 'history.json', 'acceptance.json']);
    expect(JSON.parse(files.get('parts.json') ?? '{}').gpus).toEqual([{ index: 3, model: 'NVIDIA H100 80GB HBM3', serial: '1650924060621', uuid: 'GPU-3', vbios: '96.00.99.00.01', driver: '570.124.06', pciBusId: '0000:9b:00.0' }]);
    expect(JSON.parse(files.get('conditions.json') ?? '[]')).toEqual([expect.objectContaining({ code: 'xid-79', message: 'GPU has fallen off the bus' })]);
    expect(JSON.parse(files.get('health-events.json') ?? '[]')[0].changes[0]).toMatchObject({ kind: 'appeared', condition: { code: 'xid-79' } });
    expect(JSON.parse(files.get('history.json') ?? '[]').map((h: { event: string }) => h.event)).toEqual(['inspect', 'inspection-failed']);
    expect(files.get('README.txt')).toMatch(/^Evidence for node host-n1 \(n1\), made by metalfleet-manager at 2026-11-21T10:00:05.000Z for test admin\./);
  });

  it('writes each acceptance run\'s GPU state out as the XML nvidia-smi printed; a blob that is not gzip stays as it came', async () => {
    const body = '<nvidia_smi_log><gpu id="00000000:9B:00.0"><serial>1650924060621</serial></gpu></nvidia_smi_log>\n';
    // A real one's DOCTYPE, and one declaring an entity (XXE for the vendor's XML tools): dropped.
    const xml = `<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">\n${body}`;
    const hostile = `<?xml version="1.0" ?>\n<!DOCTYPE x [ <!ENTITY e SYSTEM "file:///etc/shadow"> ]>\n${body}`;
    // A zip bomb: past what the manager decodes, left as it came.
    const bomb = gzipSync(Buffer.alloc(gpuStateOutput.maxXmlBytes + 1024, 0x20)).toString('base64');
    const run = (commandId: string, at: Date, text: string) => ({
      nodeId: 'n-xml', commandId, profile: 'hgx-h100-8', passed: false, checks: [], at,
      outputs: [{ tool: 'gpu_burn', text: 'GPU 0: OK' }, { tool: gpuStateOutput.tool, text }],
    });
    await t.store.createNode({ id: 'n-xml', hostname: 'xml', identity: { systemUuid: 'u-xml', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' },
      inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at: testTime });
    await t.store.recordAcceptance(run('accept-1', new Date('2026-11-21T09:00:00Z'), gzipSync(xml).toString('base64')));
    await t.store.recordAcceptance(run('accept-2', new Date('2026-11-21T09:30:00Z'), 'bm90IGd6aXA='));
    await t.store.recordAcceptance(run('accept-3', new Date('2026-11-21T09:40:00Z'), gzipSync(hostile).toString('base64')));
    await t.store.recordAcceptance(run('accept-4', new Date('2026-11-21T09:50:00Z'), bomb));
    const files = await untar((await t.inject({ method: 'GET', url: '/api/v1/nodes/n-xml/evidence' })).rawPayload);
    expect(files.get('nvidia-smi/2026-11-21T09-00-00-000Z-accept-1.xml')).toBe(`<?xml version="1.0" ?>\n${body}`);
    expect(files.get('nvidia-smi/2026-11-21T09-40-00-000Z-accept-3.xml')).toBe(`<?xml version="1.0" ?>\n${body}`);
    expect([...files.keys()].filter((f) => f.startsWith('nvidia-smi/'))).toEqual(['nvidia-smi/2026-11-21T09-40-00-000Z-accept-3.xml', 'nvidia-smi/2026-11-21T09-00-00-000Z-accept-1.xml']);
    const runs = JSON.parse(files.get('acceptance.json') ?? '[]') as Array<{ commandId: string; outputs: Array<{ tool: string; text: string }> }>;
    expect(runs.map((r) => [r.commandId, r.outputs[1]])).toEqual([
      ['accept-4', { tool: gpuStateOutput.tool, text: bomb }],
      ['accept-3', { tool: 'nvidia-smi -q -x', text: 'in nvidia-smi/2026-11-21T09-40-00-000Z-accept-3.xml' }],
      ['accept-2', { tool: gpuStateOutput.tool, text: 'bm90IGd6aXA=' }],
      ['accept-1', { tool: 'nvidia-smi -q -x', text: 'in nvidia-smi/2026-11-21T09-00-00-000Z-accept-1.xml' }],
    ]);
  });

  it.each([
    ['<?xml?>\n<!DOCTYPE a SYSTEM "a.dtd">\n<a/>', '<?xml?>\n<a/>'],
    ['<!doctype a [ <!ENTITY e SYSTEM "file:///etc/shadow"> ]><a>&e;</a>', '<a>&e;</a>'],
    ['<!DOCTYPE a><!DOCTYPE b [ ]>\r\n<a/>', '<a/>'],
    ['<a/><!DOCTYPE', '<a/>'],
    [`<!DOCTYPE [${']'.repeat(200_000)}`, ''],
    [`${'<!DOCTYPE ['.repeat(20_000)}<a/>`, ''],
  ])('drops the DOCTYPE of %j', (xml, expected) => {
    expect(withoutDoctype(xml)).toBe(expected);
  });

  it('keeps the newest health events within its budget when a node sent thousands of the largest, and says so', async () => {
    // A tenant is root on its node: 40 events of 256 changes with 1 KiB messages each (≈ 13 MiB of JSON).
    await t.store.createNode({ id: 'n-loud', hostname: 'loud\u001b[2J\u0007host', identity: { systemUuid: 'u-loud', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' },
      inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at: testTime });
    for (let e = 0; e < 40; e++) {
      const changes = Array.from({ length: 256 }, (_, i) => ({ kind: 'appeared' as const, condition: { component: `c${i}`, code: `code-${e}`, severity: 'warning' as const, remediation: 'none' as const, message: 'x'.repeat(1024), since: testTime } }));
      await t.store.applyHealthEvent('n-loud', { eventId: `loud-${String(e).padStart(2, '0')}`, sequence: e, at: testTime, receivedAt: testTime, changes });
    }
    const res = await t.inject({ method: 'GET', url: '/api/v1/nodes/n-loud/evidence' });
    expect(res.statusCode).toBe(200);
    const files = await untar(res.rawPayload);
    const events = JSON.parse(files.get('health-events.json') ?? '[]') as Array<{ eventId: string }>;
    const text = files.get('health-events.json') ?? '';
    expect(Buffer.byteLength(text)).toBeLessThan(healthEventBytes + 1024 * 1024);
    expect(events.length).toBeGreaterThan(10);
    expect(events.length).toBeLessThan(40);
    expect(events.map((e) => e.eventId)).toEqual(Array.from({ length: events.length }, (_, i) => `loud-${String(39 - i).padStart(2, '0')}`));
    expect(files.get('README.txt')).toContain(`health-events.json    the newest ${events.length} health events, as its agent reported them, newest first; older ones left out (over 8 MiB)`);
    // The node's hostname, its agent's word, reaches the reader's terminal as plain text.
    expect(files.get('README.txt')).toMatch(/^Evidence for node loud\?\[2J\?host \(n-loud\)/);
  });

  it('makes one bundle at a time', async () => {
    let reading = 0;
    let most = 0;
    const { healthEventPage } = t.store;
    t.store.healthEventPage = async (...args) => {
      most = Math.max(most, ++reading);
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await healthEventPage.apply(t.store, args);
      } finally {
        reading--;
      }
    };
    try {
      const answers = await Promise.all(Array.from({ length: 4 }, () => t.inject({ method: 'GET', url: '/api/v1/nodes/n1/evidence' })));
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
      // Asked for far more at once (a script in a loop): the first few are made in turn, the rest told to come back
      // (review finding: every request waited in memory, however many).
      const many = await Promise.all(Array.from({ length: 20 }, () => t.inject({ method: 'GET', url: '/api/v1/nodes/n1/evidence' })));
      expect(many.filter((a) => a.statusCode === 200)).toHaveLength(evidenceQueue + 1);
      const busy = many.filter((a) => a.statusCode === 503);
      expect(busy).toHaveLength(20 - evidenceQueue - 1);
      expect(busy[0]?.json().error).toMatchObject({ code: 'unavailable', message: `busy: ${evidenceQueue + 1} evidence bundles are being made or waiting; try again in a few seconds` });
      expect(most).toBe(1);
    } finally {
      t.store.healthEventPage = healthEventPage;
    }
  });

  it('answers 404 for an unknown node, and refuses a tenant-scoped token', async () => {
    expect((await t.inject({ method: 'GET', url: '/api/v1/nodes/nope/evidence' })).statusCode).toBe(404);
    const tenantId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-e' } })).json<{ id: string }>().id;
    const token = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'tv', role: 'viewer', tenantId } })).json<{ token: string }>().token;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/nodes/n1/evidence', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(403);
  });
});
