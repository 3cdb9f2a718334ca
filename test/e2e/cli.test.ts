// The operator CLI against a real manager and simulated nodes that speak the
// real protocol: tokens and roles, tenants, the image catalog, a reimage
// followed with --wait to its end, a failing one (exit 5), Ctrl-C on a watch
// (exit 130, the operation goes on), alerts and silences, drain, replace, power
// without a BMC, the ways out of failed and repair (refusals exit 1), and a
// revoked token (exit 4).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeDetail, NodeList, Operation } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, cliBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
let manager: ManagerProcess;
let agent: Proc | null = null;
let operatorToken = '';
let nodeIds: string[] = [];

interface Run { code: number; stdout: string; stderr: string }

/** Runs the CLI with a clean environment: only the manager URL, its CA and the token it is given. */
function cli(args: string[], token: string): Promise<Run> {
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, METALFLEET_MANAGER: manager.http, METALFLEET_CA_FILE: manager.caFile, METALFLEET_TOKEN: token };
  return new Promise((resolve) => {
    execFile(process.execPath, [cliBin, ...args], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const json = async <T>(args: string[], token = operatorToken): Promise<T> => {
  const run = await cli(['--json', ...args], token);
  if (run.code !== 0) throw new Error(`metalfleet ${args.join(' ')}: exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
};

beforeAll(async () => {
  const root = Buffer.from('metalfleet CLI test root image\n'.repeat(2048));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--health-interval-s', '1', '--command-ack-timeout-s', '3', '--reimage-boot-timeout-s', '20']);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '3', '--simulate-seed', 'cli',
    '--simulate-reboot-ms', '2500', '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
  const nodes = await eventually(() => manager.nodes(), (l: NodeList) => l.items.length === 3 && l.items.every((n) => n.state === 'available'), 45_000);
  nodeIds = nodes.items.map((n) => n.id).sort();
  const images = `${manager.boot}/images`;
  const sha256 = createHash('sha256').update(root).digest('hex');
  const admin = manager.adminToken;
  for (const [ref, sha] of [['gpu-os@1', sha256], ['broken@1', '0'.repeat(64)]] as const) {
    const put = await cli(['images', 'put', ref, '--kernel', `${images}/vmlinuz`, '--initrd', `${images}/initrd`, '--root', `${images}/root.img`, '--sha256', sha], admin);
    expect(put).toMatchObject({ code: 0, stdout: `${ref} in the catalog\n` });
  }
}, 90_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('metalfleet CLI', () => {
  it('creates an operator token as admin; the operator may not manage tokens or images (exit 4)', async () => {
    const created = await json<{ id: string; token: string }>(['tokens', 'create', '--name', 'ops', '--role', 'operator'], manager.adminToken);
    operatorToken = created.token;
    expect(operatorToken).toMatch(/^mfat\./);
    const table = await cli(['tokens', 'ls'], manager.adminToken);
    expect(table.stdout).toMatch(new RegExp(`^${created.id}\\s+ops\\s+operator\\s+-\\s+active`, 'm'));
    expect(table.stdout).not.toContain(operatorToken.split('.')[2]);
    const denied = await cli(['tokens', 'ls'], operatorToken);
    expect(denied).toMatchObject({ code: 4, stderr: 'metalfleet: role operator may not admin (permission-denied)\n' });
    expect((await cli(['images', 'rm', 'gpu-os@1'], operatorToken)).code).toBe(4);
  });

  it('lists nodes as a table and as JSON, and filters them', async () => {
    const table = await cli(['nodes', 'ls'], operatorToken);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+HOSTNAME\s+PRESENCE\s+STATE\s+TENANT\s+RACK\s+HEALTH\s+GPUS/);
    for (const id of nodeIds) expect(table.stdout).toMatch(new RegExp(`^${id}\\s+\\S+\\s+online\\s+available\\s+-`, 'm'));
    expect((await json<NodeList>(['nodes', 'ls', '--state', 'active'])).items).toEqual([]);
    expect((await json<{ id: string }>(['nodes', 'show', nodeIds[0] ?? ''])).id).toBe(nodeIds[0]);
    expect(await cli(['nodes', 'show', 'no-such-node'], operatorToken)).toMatchObject({
      code: 1, stderr: 'metalfleet: no node "no-such-node" (by id, a unique id prefix of 4 or more characters, or hostname) (not-found)\n' });
    // The dashboard's 8 characters, and a hostname, name a node as its id does.
    const first = await json<{ id: string; hostname: string }>(['nodes', 'show', nodeIds[0] ?? '']);
    expect((await json<{ id: string }>(['nodes', 'show', first.id.slice(0, 8)])).id).toBe(first.id);
    expect((await json<{ id: string }>(['nodes', 'show', first.hostname])).id).toBe(first.id);
  });

  it('checks every flag before it sends anything: a usage error exits 2 and says what is allowed', async () => {
    const before = (await json<{ items: unknown[] }>(['operations', 'ls'])).items.length;
    const priority = await cli(['nodes', 'reimage', nodeIds[0] ?? '', '--image', 'gpu-os@1', '--priority', 'high'], operatorToken);
    expect(priority).toMatchObject({ code: 2, stderr: expect.stringContaining("option '--priority <n>' argument 'high' is invalid. expected a whole number from -1000 to 1000") });
    expect((await json<{ items: unknown[] }>(['operations', 'ls'])).items).toHaveLength(before);
    expect(await cli(['failure-rates', '--window', '2h'], operatorToken))
      .toMatchObject({ code: 2, stderr: expect.stringContaining('Allowed choices are 1h, 6h, 24h, 7d, 30d') });
    expect(await cli(['tokens', 'create', '--name', 'x', '--role', 'root'], manager.adminToken))
      .toMatchObject({ code: 2, stderr: expect.stringContaining('Allowed choices are admin, operator, viewer') });
    expect(await cli(['--manager', manager.http.replace(/^https:\/\//, ''), 'nodes', 'ls'], operatorToken))
      .toMatchObject({ code: 2, stderr: expect.stringContaining(`has no scheme: the manager serves its API over HTTPS, e.g. ${manager.http} `) });
    // A reader that goes away (`| head`) ends the CLI quietly.
    const piped = await promisify(execFile)('bash', ['-c', `"${process.execPath}" "${cliBin}" --json nodes ls | true; echo "exit \${PIPESTATUS[0]}"`],
      { env: { PATH: process.env['PATH'] ?? '', HOME: dir, METALFLEET_MANAGER: manager.http, METALFLEET_CA_FILE: manager.caFile, METALFLEET_TOKEN: operatorToken } });
    expect(piped).toEqual({ stdout: 'exit 0\n', stderr: '' });
  });

  it('reimages a tenant\'s node with --wait: a progress bar, then the summary, exit 0', async () => {
    await json<{ id: string }>(['tenants', 'create', 'acme']);
    // By the tenant's name, and the nodes by hostname and by the dashboard's 8 characters.
    const [first, second] = [await json<NodeDetail>(['nodes', 'show', nodeIds[0] ?? '']), nodeIds[1] ?? ''];
    expect(await cli(['tenants', 'add', 'acme', first.hostname], operatorToken)).toMatchObject({ code: 0, stdout: `${first.hostname} (${first.id}) allocated to acme\n` });
    expect((await cli(['tenants', 'add', 'acme', second.slice(0, 8)], operatorToken)).code).toBe(0);
    const listed = await cli(['nodes', 'ls', '--tenant', 'acme'], operatorToken);
    expect(listed.stdout.split('\n').filter((l) => /\sacme\s/.test(l))).toHaveLength(2);
    expect(await cli(['nodes', 'ls', '--tenant', 'acne'], operatorToken)).toMatchObject({ code: 1, stderr: expect.stringContaining('no tenant "acne"') });
    const run = await cli(['nodes', 'reimage', nodeIds[0] ?? '', '--image', 'gpu-os@1', '--wait'], operatorToken);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/operation \S+ \|.*\| 1\/1 finished: 1 done, 0 failed/);
    expect(run.stdout).toMatch(/^operation \S+ succeeded: 1 done, 0 failed of 1$/m);
    const ops = await cli(['operations', 'ls'], operatorToken);
    expect(ops.stdout).toMatch(/^\S+\s+reimage\s+succeeded\s+gpu-os@1/m);
    // A template by names, applied by its name: the tenant has its 2 nodes already.
    const template = await cli(['templates', 'create', 'acme-train', '--tenant', 'acme', '--image', 'gpu-os@1', '--nodes', '2'], operatorToken);
    expect(template).toMatchObject({ code: 0, stdout: expect.stringMatching(/^template acme-train \(\S+\): 2 node\(s\) of gpu-os@1 for acme; metalfleet templates apply acme-train\n$/) });
    expect((await cli(['templates', 'ls'], operatorToken)).stdout).toMatch(/^\S+\s+acme-train\s+gpu-os@1\s+acme\s+2\s/m);
    expect(await cli(['templates', 'apply', 'acme-train'], operatorToken)).toMatchObject({ code: 0, stdout: 'the tenant already has its 2 node(s)\n' });
    expect(await cli(['templates', 'create', 'x', '--tenant', 'acme', '--image', 'gpu-os@1', '--nodes', 'two'], operatorToken)).toMatchObject({ code: 2 });
    expect(await cli(['templates', 'rm', 'acme-train'], operatorToken)).toMatchObject({ code: 0 });
  }, 60_000);

  it('makes, lists and revokes bootstrap tokens (admin)', async () => {
    const admin = manager.adminToken;
    const created = await cli(['--json', 'bootstrap-tokens', 'create', '--description', 'rack 12 bring-up', '--max-uses', '3', '--ttl-s', '3600'], admin);
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string };
    expect(token.token).toMatch(/^mfbt\./);
    expect((await cli(['bootstrap-tokens', 'ls'], admin)).stdout).toMatch(new RegExp(`^${token.id}\\s+active\\s+operator\\s+0/3\\s+\\S+\\s+rack 12 bring-up$`, 'm'));
    expect(await cli(['bootstrap-tokens', 'create', '--ttl-s', '5'], admin)).toMatchObject({ code: 2, stderr: expect.stringContaining('from 60 to') });
    expect(await cli(['bootstrap-tokens', 'revoke', token.id], admin)).toMatchObject({ code: 0, stdout: `bootstrap token ${token.id} revoked\n` });
    expect((await cli(['bootstrap-tokens', 'ls'], admin)).stdout).toMatch(new RegExp(`^${token.id}\\s+revoked\\s`, 'm'));
    expect((await cli(['bootstrap-tokens', 'ls'], operatorToken)).code).toBe(4);
  });

  it('exits 5 when the awaited operation fails, and names the node and why', async () => {
    const run = await cli(['nodes', 'reimage', nodeIds[1] ?? '', '--image', 'broken@1', '--wait'], operatorToken);
    expect(run.code).toBe(5);
    expect(run.stdout).toContain(`${nodeIds[1] ?? ''}: installing: the agent reported: image checksum mismatch`);
    // The failed reimage is a failure of that node: 1 of the 3 nodes in the fleet.
    const rates = await eventually(() => cli(['failure-rates', '--by', 'fleet'], operatorToken), (r) => /^fleet\s+3\s+1\s+33\.3%/m.test(r.stdout));
    expect(rates.stdout.split('\n')[0]).toMatch(/^FLEET\s+NODES\s+FAILED\s+RATE\s+FAILURES\s+ACCEPTANCE FAILED\s+REPAIRS\s+MTBF \(H\)$/);
    expect(await cli(['failure-rates', '--by', 'moon'], operatorToken)).toMatchObject({ code: 2, stderr: expect.stringContaining('Allowed choices are fleet, pool, rack') });
  }, 60_000);

  it('adds an alert rule that the failed reimage trips, lists the alert, silences it and removes the rule', async () => {
    const added = await cli(['alerts', 'rules', 'add', 'fleet-rate', '--kind', 'failure-rate', '--by', 'fleet', '--threshold', '0.2', '--min-nodes', '3'], operatorToken);
    expect(added).toMatchObject({ code: 0, stdout: 'rule fleet-rate added: failure-rate severity=critical for=0s by=fleet window=24h threshold=0.2 minNodes=3\n' });
    const bad = await cli(['alerts', 'rules', 'add', 'bad', '--kind', 'failure-rate', '--threshold', 'lots'], operatorToken);
    expect(bad).toMatchObject({ code: 2, stderr: 'metalfleet: --threshold lots: expected a number\n' });
    const firing = await eventually(() => cli(['alerts', '--state', 'firing'], operatorToken), (r) => r.stdout.includes('fleet-rate'));
    expect(firing.stdout.split('\n')[0]).toMatch(/^STATE\s+SEVERITY\s+RULE\s+SINCE\s+SILENCED\s+SUMMARY$/);
    expect(firing.stdout).toMatch(/^firing\s+critical\s+fleet-rate\s+\S+\s+-\s+the fleet: 1 of 3 nodes failed in 24h \(33\.3%, more than 20\.0%\); nodes cli-\d+; reimage-failed$/m);
    const silence = await json<{ id: string }>(['alerts', 'silence', '--match', 'alertname=fleet-rate', '--for', '2h', '--comment', 'known bad image'], operatorToken);
    expect((await cli(['alerts'], operatorToken)).stdout).toMatch(/^firing\s+critical\s+fleet-rate\s+\S+\s+yes\s/m);
    expect((await cli(['alerts', 'silences'], operatorToken)).stdout).toMatch(new RegExp(`^${silence.id}\\s+active\\s+alertname=fleet-rate\\s`, 'm'));
    expect(await cli(['alerts', 'silence', '--match', 'nolabel', '--for', '1h', '--comment', 'x'], operatorToken))
      .toMatchObject({ code: 2, stderr: expect.stringContaining("argument 'nolabel' is invalid. expected label=value") });
    expect((await cli(['alerts', 'unsilence', silence.id], operatorToken)).code).toBe(0);
    expect((await cli(['alerts', 'rules', 'rm', 'pool-failure-rate'], operatorToken))).toMatchObject({ code: 1, stderr: expect.stringContaining('comes from the default rules') as string });
    expect((await cli(['alerts', 'rules', 'rm', 'fleet-rate'], operatorToken)).code).toBe(0);
    expect((await cli(['alerts', '--state', 'resolved'], operatorToken)).stdout).toMatch(/^resolved\s+critical\s+fleet-rate\s/m);
  }, 60_000);

  it('Ctrl-C stops watching (exit 130), not the operation', async () => {
    // The simulated nodes are paused, so the operation is still running whenever the watch gets its Ctrl-C.
    agent?.child.kill('SIGSTOP');
    let operation: Operation;
    let stdout = '';
    let code: number | null;
    try {
      operation = await json<Operation>(['nodes', 'reimage', nodeIds[0] ?? '', '--image', 'gpu-os@1']);
      const env = { PATH: process.env['PATH'] ?? '', HOME: dir, METALFLEET_MANAGER: manager.http, METALFLEET_CA_FILE: manager.caFile, METALFLEET_TOKEN: operatorToken };
      const watch = spawn(process.execPath, [cliBin, 'operations', 'watch', operation.id], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      watch.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      // Interrupted once it is watching (its progress bar is out), however slowly the CLI started.
      await new Promise<void>((resolve, reject) => {
        let stderr = '';
        watch.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes(`operation ${operation.id} |`)) resolve();
        });
        watch.once('exit', () => reject(new Error(`the watch ended before it showed progress: ${stderr}`)));
      });
      watch.kill('SIGINT');
      code = await new Promise<number | null>((resolve) => watch.once('exit', resolve));
    } finally {
      agent?.child.kill('SIGCONT');
    }
    expect(code).toBe(130);
    expect(stdout).toContain(`stopped watching operation ${operation.id}; it goes on`);
    const done = await eventually(() => json<Operation>(['operations', 'show', operation.id]), (o) => o.state !== 'running', 30_000);
    expect(done.state).toBe('succeeded');
  }, 60_000);

  it('drains, says why a node has no power control, and replaces a node (no template: to repair, no spare)', async () => {
    expect(await cli(['nodes', 'drain', nodeIds[0] ?? '', '--reason', 'kernel upgrade'], operatorToken)).toMatchObject({ code: 0, stdout: `${nodeIds[0] ?? ''}: drained\n` });
    const power = await cli(['nodes', 'power', nodeIds[0] ?? ''], operatorToken);
    expect(power).toMatchObject({ code: 1, stderr: expect.stringContaining('has no BMC configured') });
    expect((await cli(['nodes', 'power', nodeIds[0] ?? '', 'explode'], operatorToken)).code).toBe(2);
    const replaced = await json<{ outcome: string }>(['nodes', 'replace', nodeIds[0] ?? '', '--reason', 'fans failing']);
    expect(replaced.outcome).toMatch(/^failed node sent to repair; no replacement: tenant \S+ has no template/);
    expect((await json<{ state: string }>(['nodes', 'show', nodeIds[0] ?? ''])).state).toBe('repair');
  });

  it('takes a failed node and one in repair back to the pool, and exits 1 when the state allows no such action', async () => {
    const [inRepair = '', failed = '', spare = ''] = nodeIds;
    // The node whose reimage failed above: reimage and replace are refused (replace exited 0 on "not replaced" before).
    expect(await json<{ state: string; actions: string[] }>(['nodes', 'show', failed])).toMatchObject({ state: 'failed', actions: ['power-cycle', 'retry', 'repair', 'retire'] });
    expect(await cli(['nodes', 'reimage', failed, '--image', 'gpu-os@1'], operatorToken)).toMatchObject({
      code: 1, stderr: expect.stringContaining(`reimage is not allowed for node ${failed} (failed): only nodes allocated to a tenant or active are reimaged; allowed: power-cycle, retry, repair, retire`) });
    expect((await cli(['nodes', 'replace', failed, '--reason', 'again'], operatorToken)).code).toBe(1);
    expect((await cli(['nodes', 'show', failed], operatorToken)).stdout).toContain('Actions:   power-cycle, retry, repair, retire\n');
    expect(await cli(['nodes', 'retry', failed, '--reason', 'the image was broken, not the node'], operatorToken)).toMatchObject({
      code: 0, stdout: `${failed}: failed → inspecting; now allowed: power-cycle, retire\n` });
    // Replaced above with no spare: in repair. Marked repaired with the ticket, it is inspected again.
    expect(await cli(['nodes', 'retry', inRepair, '--reason', 'x'], operatorToken)).toMatchObject({ code: 1, stderr: expect.stringContaining('allowed: power-cycle, repaired, retire') });
    expect((await cli(['nodes', 'repaired', inRepair, '--reason', 'fans replaced', '--ticket', 'RMA-1'], operatorToken)).code).toBe(0);
    expect((await cli(['nodes', 'repaired', inRepair, '--reason', 'twice'], operatorToken)).code).toBe(1);
    // Both online and healthy: inspected at once (not at their next digest, 5 minutes away), they serve again.
    const back = await eventually(() => json<NodeList>(['nodes', 'ls']), (l) => [inRepair, failed].every((id) => l.items.find((n) => n.id === id)?.state === 'available'), 10_000);
    expect(back.items.filter((n) => n.state === 'available').length).toBeGreaterThanOrEqual(2);
    const history = await json<{ history: Array<{ event: string; actor: string; reason: string }> }>(['nodes', 'show', inRepair]);
    expect(history.history.find((h) => h.event === 'repaired')).toMatchObject({ actor: 'api ops', reason: 'fans replaced (ticket RMA-1)' });
    // Retired: final.
    expect((await cli(['nodes', 'retire', spare, '--reason', 'end of life'], operatorToken)).code).toBe(0);
    expect(await cli(['nodes', 'retry', spare, '--reason', 'x'], operatorToken)).toMatchObject({ code: 1, stderr: expect.stringContaining('allowed: nothing (retired is final)') });
  }, 60_000);

  it('writes a node\'s evidence bundle for its vendor\'s ticket, and never overwrites one', async () => {
    const failed = nodeIds[1] ?? '';
    const file = join(dir, 'evidence.tar.gz');
    const run = await cli(['nodes', 'evidence', failed, '-o', file], operatorToken);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^${failed}: evidence written to ${file} \\(\\d+ bytes\\)\\n$`));
    const tar = gunzipSync(readFileSync(file)).toString('utf8');
    for (const name of ['parts.json', 'health-events.json', 'history.json']) expect(tar).toContain(name);
    // The GPUs' whole state at the end of its acceptance run, as nvidia-smi -q -x printed it: one <gpu> per GPU.
    const states = new Set(tar.match(/nvidia-smi\/\d{4}-\d\d-\d\dT[\d-]+Z-accept-[\w-]+\.xml/g));
    expect(states.size).toBeGreaterThan(0);
    expect(tar.match(/<gpu id="00000000:[0-9A-F]{2}:00\.0">/g)).toHaveLength(8 * states.size);
    // Its failed reimage and the operator's retry above, with why.
    expect(tar).toContain('the image was broken, not the node');
    expect(await cli(['nodes', 'evidence', failed, '-o', file], operatorToken)).toMatchObject({ code: 1, stderr: expect.stringContaining(`${file} exists`) });
    expect((await cli(['nodes', 'evidence', 'no-such-node', '-o', join(dir, 'none.tar.gz')], operatorToken)).code).toBe(1);
    // Something else answering 200 (a proxy's page): said, and nothing written.
    const page = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>'));
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    const other = join(dir, 'not-a-bundle.tar.gz');
    const proxied = await new Promise<Run>((resolve) => {
      execFile(process.execPath, [cliBin, 'nodes', 'evidence', failed, '-o', other], {
        env: { PATH: process.env['PATH'] ?? '', HOME: dir, METALFLEET_MANAGER: `http://127.0.0.1:${(page.address() as AddressInfo).port}`, METALFLEET_TOKEN: operatorToken },
      }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
    page.close();
    expect(proxied).toMatchObject({ code: 1, stderr: expect.stringContaining('answered text/html, not application/json (HTTP 200): is it the manager?') });
    expect(existsSync(other)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('shows the SKU profiles in force and a node\'s acceptance runs (each node passed the default H100 profile before it joined the pool)', async () => {
    const profiles = await cli(['sku-profiles'], operatorToken);
    expect(profiles.code, profiles.stderr).toBe(0);
    expect(profiles.stdout).toMatch(/^hgx-h100-8 +default +8 x H100 80GB HBM3 +≥ 79 GiB +Gen5 x16 +18 +8 at 400 Gb\/s +8 +≥ 460 GB\/s +300 s, ≤ 10 °C spread +-r 3$/m);
    // An admin's profile from a YAML file: checked here first (exit 2, the field named, nothing sent), then saved and listed first.
    const file = join(dir, 'sim-profile.yaml');
    const profile = ['name: sim-h100-8', 'gpuModel: H100', 'gpuCount: 8', 'minGpuMemoryBytes: 84825604096', 'allowedDrivers: []', 'allowedVbios: []', 'pcieGen: 5', 'pcieWidth: 16',
      'nvlinksPerGpu: 18', 'nicCount: 2', 'minNicSpeedMbps: 100000', 'nvmeCount: 2', 'dimmCount: null', 'gates: { ncclBusbwGBs: 460, p2pGBs: 0, hostCopyGBs: 0, dcgmLevel: 3 }'];
    writeFileSync(file, [...profile.slice(0, -1), 'gates: { ncclBusbwGBs: 460, p2pGBs: 0, hostCopyGBs: 0, dcgmLevel: 9 }'].join('\n'));
    expect(await cli(['sku-profiles', 'set', file], manager.adminToken)).toMatchObject({ code: 2, stderr: expect.stringMatching(/gates\/dcgmLevel/) });
    writeFileSync(file, profile.join('\n'));
    expect(await cli(['sku-profiles', 'set', file], operatorToken)).toMatchObject({ code: 4 });
    expect(await cli(['sku-profiles', 'set', file], manager.adminToken)).toMatchObject({ code: 0, stdout: 'SKU profile sim-h100-8 saved: 8 x H100\n' });
    expect((await cli(['sku-profiles'], operatorToken)).stdout.split('\n')[1]).toMatch(/^sim-h100-8 +api +8 x H100 /);
    expect(await cli(['sku-profiles', 'rm', 'hgx-h100-8'], manager.adminToken)).toMatchObject({ code: 1, stderr: expect.stringContaining('is a default') });
    expect(await cli(['sku-profiles', 'rm', 'sim-h100-8'], manager.adminToken)).toMatchObject({ code: 0, stdout: 'SKU profile sim-h100-8 removed\n' });
    const runs = await cli(['nodes', 'acceptance', nodeIds[0] ?? ''], operatorToken);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(new RegExp(`^\\S+  PASSED  profile hgx-h100-8  command accept-${nodeIds[0]}-\\d+\n`));
    expect(runs.stdout).toMatch(/^nic-count +8 of 8 at ≥ 400 Gb\/s, link up 8 +≥ 8 up +pass$/m);
    expect((await cli(['nodes', 'acceptance', 'no-such-node'], operatorToken)).code).toBe(1);
  });

  it('a revoked token stops working (exit 4); an unreachable manager is exit 3', async () => {
    const tokens = await json<{ items: Array<{ id: string; name: string }> }>(['tokens', 'ls'], manager.adminToken);
    const ops = tokens.items.find((t) => t.name === 'ops');
    expect((await cli(['tokens', 'revoke', ops?.id ?? ''], manager.adminToken)).code).toBe(0);
    expect(await cli(['nodes', 'ls'], operatorToken)).toMatchObject({ code: 4, stderr: expect.stringContaining('was revoked') });
    const env = { PATH: process.env['PATH'] ?? '', HOME: dir };
    const unreachable = await new Promise<number>((resolve) => {
      execFile(process.execPath, [cliBin, '--manager', 'http://127.0.0.1:9', '--token', 'x', 'nodes', 'ls'], { env }, (error) => resolve(Number((error as { code?: number } | null)?.code ?? 0)));
    });
    expect(unreachable).toBe(3);
  });
});
