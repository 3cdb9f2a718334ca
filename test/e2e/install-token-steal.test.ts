// Another tenant asks for a victim's install script by its MAC while the
// victim is being reimaged (from review finding 1). The open boot endpoint
// hands the install token to the first fetch after the reboot point only: a
// later one gets no token (409, a local-boot script), takes nothing away from
// the fetch before it, and is reported (install-refused). And the token is
// good only from the address it was handed to, so one read off the wire (the
// boot script travels as plain HTTP) registers nothing elsewhere, even with
// the machine's whole identity, which a former tenant knows.
// The honest firmware and installer are played here by raw clients (the
// simulated agent fetches and registers back to back, with no window); the
// victim's agent acked the reboot and then stays "down"
// (--simulate-reboot-ms 600000). The attacker's requests come from 127.0.0.2,
// another address on the loopback network (a TCP relay bound to it for gRPC).
// On main the attacker's fetch got a fresh token and deleted the victim's: the
// attacker registered as the node and got its credential, and the installer
// was refused.
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import type { NodeList, Operation } from '@metalfleet/api';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-hostile-steal-'));
let manager: ManagerProcess;
let agent: Proc | null = null;
let sha256 = '';

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
const nodes = async () => (await api<NodeList>('GET', '/api/v1/nodes')).items;
const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
const attackerAddress = '127.0.0.2';
let relay: Server | null = null;

/** GET from the attacker's address. */
function getFrom(localAddress: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** A TCP relay to `target` whose connections leave from `localAddress`: a gRPC client through it is seen as that address. */
async function relayFrom(localAddress: string, target: string): Promise<string> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  relay = createServer((client) => {
    const upstream = connect({ host, port, localAddress });
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(relay.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const root = Buffer.from(`hostile root image ${Date.now()}\n`.repeat(2048));
  sha256 = createHash('sha256').update(root).digest('hex');
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), ['--command-ack-timeout-s', '5', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '30']);
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'hostile-steal', '--simulate-reboot-ms', '600000',
    '--state-dir', join(dir, 'node'), '--kernel-cmdline', '/nonexistent']);
  await eventually(nodes, (l) => l.length === 1 && l[0]!.state === 'available', 60_000);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
  const tenant = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'hostile' });
  for (const node of await nodes()) await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
}, 120_000);

afterAll(async () => {
  relay?.close();
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('another tenant asks for a victim\'s install script by its MAC', () => {
  it('gets no token, takes none away, and cannot use one read off the wire from its own address', async () => {
    const victim = (await nodes())[0]!;
    const op = await api<Operation>('POST', `/api/v1/nodes/${victim.id}/reimage`, { image: 'gpu-os@1.0' });
    await eventually(() => operation(op.id), (o) => o.nodes[0]?.phase === 'installing', 30_000);
    const bootUrl = `${manager.boot}/boot/ipxe?mac=${encodeURIComponent(victim.identity.macs[0]!)}`;
    const tokenIn = (text: string) => /metalfleet\.token=(\S+)/.exec(text)?.[1] ?? '';
    // The victim's firmware fetches its install script...
    const victimToken = tokenIn(await fetch(bootUrl).then((r) => r.text()));
    expect(victimToken).not.toBe('');
    // ...and while it boots the install image, another tenant asks with the victim's MAC, from its own address.
    const stolen = await getFrom(attackerAddress, bootUrl);
    expect(stolen.status).toBe(409);
    expect(stolen.body).toMatch(/^#!ipxe\necho metalfleet: this reimage's install script was handed out already/);
    expect(tokenIn(stolen.body)).toBe('');
    const refusals = async () => manager.proc!.lines.filter((l) => l.startsWith('{') && l.includes('"msg":"install-refused"')).map((l) => (JSON.parse(l) as { event: Record<string, unknown> }).event);
    expect(await eventually(refusals, (r) => r.length === 1)).toEqual([expect.objectContaining({
      nodeId: victim.id, step: 'boot-script', peer: attackerAddress, reason: expect.stringMatching(/^a second request for the install script: its install script was handed out already, at \S+Z to 127\.0\.0\.1$/) as unknown,
    })]);
    const { client: grpc, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
    const { client: fromAttacker, close: closeAttacker } = createClient(AgentService, await relayFrom(attackerAddress, manager.grpc), credentials.createSsl(ca()));
    // A tenant that had this machine before (root on it: it read its DMI identity and MACs) registers with the token it
    // read off the wire, and with the nothing its own fetch got.
    const attempt = (client: typeof grpc, token: string) => client.register({ identity: victim.identity, inventory: { system: { hostname: 'attacker' } }, bootstrapToken: token, agentVersion: 'attacker' })
      .catch((e: unknown) => e) as Promise<{ nodeId?: string; nodeCredential?: string; message?: string }>;
    const sniffed = await attempt(fromAttacker, victimToken);
    const empty = await attempt(fromAttacker, tokenIn(stolen.body));
    // The victim's installer registers with the token its boot got.
    const registered = await grpc.register({ identity: victim.identity, inventory: { system: { hostname: 'installer' } }, bootstrapToken: victimToken, agentVersion: 'installer' })
      .catch((e: unknown) => e) as { nodeId?: string; message?: string };
    close();
    closeAttacker();
    expect(sniffed.nodeCredential).toBeUndefined();
    expect(sniffed.message).toMatch(/is not good from this address/);
    expect(empty.nodeCredential).toBeUndefined();
    expect(registered).toMatchObject({ nodeId: victim.id });
    expect((await eventually(refusals, (r) => r.length === 2))[1]).toMatchObject({
      nodeId: victim.id, step: 'registration', reason: 'the install token was handed to 127.0.0.1, and this registration comes from 127.0.0.2',
    });
    // The reimage goes on, and its evidence keeps the latest refusal for the operator.
    const entry = (await eventually(() => operation(op.id), (o) => o.nodes[0]?.evidence.refused?.step === 'registration')).nodes[0]!;
    expect(entry).toMatchObject({ phase: 'installing', evidence: { refused: { peer: expect.stringMatching(/^127\.0\.0\.2:\d+$/) as unknown } } });
  });
});
