// A three-node NATS cluster (Debian `nats-server`) as deploy/ha/nats ships it:
// JetStream, the MQTT listener over TLS with client certificates, the accounts
// the manager wrote; on free loopback ports, each node in a directory of its
// own, any node killed and started again on the same ports and storage.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from './apt.ts';
import { accepting, freePort } from './ports.ts';

const bin = '/usr/sbin/nats-server';
const shipped = join(import.meta.dirname, '..', '..', 'deploy', 'ha', 'nats', 'nats-server.conf');

export interface NatsNode {
  name: string;
  clientUrl: string;
  mqttUrl: string;
  output: () => string;
  /** Killed with SIGKILL: no goodbye to the cluster. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  stop(): Promise<void>;
}

export type NatsPorts = Array<{ client: number; cluster: number; mqtt: number }>;

/** Ports for a cluster of `size` nodes, chosen before it starts (the manager is told them first). */
export async function natsPorts(size = 3): Promise<NatsPorts> {
  const ports: NatsPorts = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), cluster: await freePort(), mqtt: await freePort() });
  return ports;
}

export const natsUrls = (ports: NatsPorts) => ({
  nats: ports.map((p) => `tls://127.0.0.1:${p.client}`).join(','),
  mqtt: ports.map((p) => `mqtts://127.0.0.1:${p.mqtt}`).join(','),
});

/**
 * A route password as deploy/ha/README.md makes it: a word first, then hex. nats-server parses a variable's value as
 * a config value, so bare hex that reads as a number ("6e5a…", "1k…") stops the broker from starting.
 */
export const routePassword = (secret: Buffer = randomBytes(32)) => `route-${secret.toString('hex')}`;

export async function startNatsCluster(ports: NatsPorts, options: {
  accountsFile: string; caFile: string; server: { chainPem: string; keyPem: string };
  /** The route password's random part (random when not given). */
  routeSecret?: Buffer;
}): Promise<NatsCluster> {
  if (!existsSync(bin)) aptInstall(['nats-server'], { recommends: false });
  const root = mkdtempSync(join(tmpdir(), 'mf-nats-'));
  const password = routePassword(options.routeSecret);
  const nodes = ports.map((port, i): NatsNode => {
    const name = `broker-${i + 1}`;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(shipped, join(dir, 'nats-server.conf'));
    copyFileSync(options.accountsFile, join(dir, 'nats-accounts.conf'));
    copyFileSync(options.caFile, join(dir, 'ca.crt'));
    writeFileSync(join(dir, 'broker.crt'), options.server.chainPem);
    writeFileSync(join(dir, 'broker.key'), options.server.keyPem, { mode: 0o600 });
    const env = {
      ...process.env, NATS_NAME: name, NATS_CLIENT: `127.0.0.1:${port.client}`, NATS_CLUSTER: `127.0.0.1:${port.cluster}`, NATS_MQTT: `127.0.0.1:${port.mqtt}`,
      NATS_ACCOUNTS: join(dir, 'accounts'), NATS_JETSTREAM: join(dir, 'jetstream'), NATS_ROUTE_PASSWORD: password,
      ...Object.fromEntries(ports.map((p, j) => [`NATS_ROUTE_${j + 1}`, `nats-route://metalfleet-route:${password}@127.0.0.1:${p.cluster}`])),
    };
    let output = '';
    let child: ChildProcess | null = null;
    return {
      name,
      clientUrl: `tls://127.0.0.1:${port.client}`,
      mqttUrl: `mqtts://127.0.0.1:${port.mqtt}`,
      output: () => output,
      async start() {
        const started = spawn(bin, ['-c', join(dir, 'nats-server.conf')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        child = started;
        for (const stream of [started.stdout, started.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const deadline = Date.now() + 15_000;
        while (!(await accepting(port.mqtt)) || !(await accepting(port.client))) {
          if (Date.now() > deadline || started.exitCode !== null) throw new Error(`nats-server ${name} did not listen:\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      async kill() {
        const running = child;
        if (!running || running.exitCode !== null) return;
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGKILL');
        await exited;
      },
    };
  });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  // One node that does not start: the others are not left running.
  await Promise.all(nodes.map((node) => node.start())).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { nodes, stop };
}

/**
 * A nats-server that is no broker node of ours dialling one's route port with `identity` (a certificate from the
 * manager's CA: a node's) and a route password it guessed: what a tenant could try to read every node's messages.
 */
export async function startRogueRoute(options: { target: string; identity: { certPem: string; keyPem: string }; caFile: string; password: string }): Promise<{ output: () => string; kill: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-nats-rogue-'));
  writeFileSync(join(dir, 'rogue.crt'), options.identity.certPem);
  writeFileSync(join(dir, 'rogue.key'), options.identity.keyPem, { mode: 0o600 });
  copyFileSync(options.caFile, join(dir, 'ca.crt'));
  writeFileSync(join(dir, 'rogue.conf'), `server_name: rogue
listen: 127.0.0.1:${await freePort()}
cluster {
  name: metalfleet
  listen: 127.0.0.1:${await freePort()}
  routes: ["nats-route://metalfleet-route:${options.password}@${options.target}"]
  tls { cert_file: "./rogue.crt", key_file: "./rogue.key", ca_file: "./ca.crt", verify: true, timeout: 5 }
}
`);
  let output = '';
  const child = spawn(bin, ['-c', join(dir, 'rogue.conf')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    output: () => output,
    async kill() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
