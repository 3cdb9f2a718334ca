// Secrets at rest, on a real manager process over a data directory an older
// manager left behind (755, fleet.db 644, a BMC password in plaintext): after
// the start the directory is 700 and its databases 600, the password is in
// no byte of fleet.db or its WAL, and the manager still power-cycles a real
// IPMI BMC (ipmi_sim) with it. Without its key file it does not start.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { startBmcLab, type BmcLab } from '../support/bmc-lab.ts';
import { ManagerProcess } from '../support/manager.ts';
import { eventually, managerBin, start } from '../support/processes.ts';

const password = 'Qz7-mf-bmc-pw19';
const dir = mkdtempSync(join(tmpdir(), 'mf-secrets-'));
const dataDir = join(dir, 'data');
// The directory holds an older manager's database (beforeAll): started on it, not --init.
const manager = new ManagerProcess(dataDir).onExistingState();
let bmc: BmcLab;

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const stateBytes = () => Buffer.concat(['fleet.db', 'fleet.db-wal'].filter((f) => existsSync(join(dataDir, f))).map((f) => readFileSync(join(dataDir, f))));

beforeAll(async () => {
  bmc = await startBmcLab({ password });
  // What an older manager left: a world-readable directory and database, the BMC password as given.
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const old = openSqliteFleetStore({ path: join(dataDir, 'fleet.db') });
  await old.createNode({
    id: 'legacy-node', hostname: 'gpu-legacy', identity: { systemUuid: 'legacy-uuid', systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['52:54:00:aa:00:01'], bmcAddress: '' },
    inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'x', at: new Date(),
  });
  await old.setBmc('legacy-node', { driver: 'ipmi', address: bmc.host, port: bmc.port, username: bmc.username, password, cipherSuite: 3, https: false, insecureTls: false });
  await old.close();
  chmodSync(join(dataDir, 'fleet.db'), 0o644);
  // Only the database is built here, not the older manager's CA: an empty pki/ is how an operator asks for a new one
  // (a fleet.db without any pki/ is refused, ca-missing).
  mkdirSync(join(dataDir, 'pki'), { mode: 0o700 });
  expect(stateBytes().includes(password)).toBe(true);
  await manager.start();
});

afterAll(async () => {
  await manager.stop();
  bmc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets at rest', () => {
  it('makes the data directory 700 and its databases and key 600 (fixing what an older manager left)', () => {
    expect(mode(dataDir)).toBe('700');
    for (const file of ['fleet.db', 'fleet.db-wal', 'fleet.db-shm', 'telemetry.db', 'secret.key']) expect([file, mode(join(dataDir, file))]).toEqual([file, '600']);
    for (const file of ['telemetry.db-wal', 'telemetry.db-shm'].filter((f) => existsSync(join(dataDir, f)))) expect([file, mode(join(dataDir, file))]).toEqual([file, '600']);
  });

  it('keeps the BMC password in no byte of fleet.db or its WAL, and still power-cycles the node through that BMC', async () => {
    expect(stateBytes().includes(password)).toBe(false);
    const before = bmc.actions().length;
    await manager.request('POST', '/api/v1/nodes/legacy-node/power', { action: 'on' });
    await manager.request('POST', '/api/v1/nodes/legacy-node/power', { action: 'cycle' });
    await eventually(async () => bmc.actions().slice(before), (actions) => actions.includes('power 1') && actions.includes('power 0'));
    // Set again through the API: sealed on the way in as well.
    await manager.request('PUT', '/api/v1/nodes/legacy-node/bmc', { driver: 'ipmi', address: bmc.host, port: bmc.port, username: bmc.username, password, cipherSuite: 3 });
    // ipmi_sim finishes a cycle's power-on in the background.
    await eventually(() => manager.request<{ power: string }>('GET', '/api/v1/nodes/legacy-node/power'), (p) => p.power === 'on');
    expect(stateBytes().includes(password)).toBe(false);
    const audit = await manager.get<{ items: Array<{ route: string; detail: string }> }>('/api/v1/audit');
    expect(audit.items.find((e) => e.route === 'PUT /api/v1/nodes/:id/bmc')?.detail).toBe(`node legacy-node bmc ipmi ${bmc.host}:${bmc.port} user admin`);
  });

  it('refuses to start, naming the key it needs, when the key file is gone; starts again with it back', async () => {
    await manager.stop();
    renameSync(join(dataDir, 'secret.key'), join(dir, 'secret.key.moved'));
    const refused = start(managerBin, ['--data-dir', dataDir, '--listen-host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0']);
    const code = await new Promise<number | null>((done) => (refused.child.exitCode !== null ? done(refused.child.exitCode) : refused.child.once('exit', done)));
    expect(code).toBe(2);
    expect(refused.lines.join('\n')).toMatch(/holds 1 BMC password\(s\) sealed with key [0-9a-f]{16}, but there is no key file .*secret\.key/);
    expect(existsSync(join(dataDir, 'secret.key'))).toBe(false);
    renameSync(join(dir, 'secret.key.moved'), join(dataDir, 'secret.key'));
    await manager.start();
    expect((await manager.request<{ power: string }>('GET', '/api/v1/nodes/legacy-node/power')).power).toBe('on');
  });
});
