// A private Mosquitto (Debian `mosquitto`) with a TLS listener on a loopback
// port, for measuring the same broker load as the manager's (MQTT over TLS)
// through a broker written in C. The machine's own Mosquitto on 1883 is plain
// MQTT and is left alone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepting, freePort } from './ports.ts';
import { aptInstall } from './apt.ts';

const bin = '/usr/sbin/mosquitto';

export interface PrivateMosquitto {
  url: string;
  /** The broker's process id. */
  pid: number;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts Mosquitto serving MQTT over TLS with the given certificate chain and key; anonymous clients allowed. */
export async function startMosquittoTls(tls: { chainPem: string; keyPem: string }): Promise<PrivateMosquitto> {
  if (!existsSync(bin)) aptInstall(['mosquitto'], { recommends: false });
  const dir = mkdtempSync(join(tmpdir(), 'mf-mosquitto-'));
  const port = await freePort();
  writeFileSync(join(dir, 'chain.pem'), tls.chainPem);
  writeFileSync(join(dir, 'key.pem'), tls.keyPem);
  // `user` keeps a root-started broker able to read its private directory (it would drop to `mosquitto`).
  writeFileSync(join(dir, 'mosquitto.conf'), [
    `user ${process.getuid?.() === 0 ? 'root' : 'mosquitto'}`,
    `listener ${port} 127.0.0.1`,
    `certfile ${join(dir, 'chain.pem')}`,
    `keyfile ${join(dir, 'key.pem')}`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n'));
  let output = '';
  const child = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`mosquitto did not listen on 127.0.0.1:${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `mqtts://127.0.0.1:${port}`, pid: child.pid ?? 0, output: () => output, stop };
}

export interface NodeMosquitto extends PrivateMosquitto {
  port: number;
  /** Stops and starts it again on the same port and files (it reads its CRL only at start). */
  restart(): Promise<void>;
}

/**
 * Mosquitto as deploy/ha/mosquitto ships it (its mosquitto.conf and acl, with this test's paths and port): client
 * certificates only, each client named after its certificate, per-node ACLs, the manager's CRL.
 */
export async function startNodeMosquitto(options: { port: number; caFile: string; crlFile: string; server: { chainPem: string; keyPem: string } }): Promise<NodeMosquitto> {
  if (!existsSync(bin)) aptInstall(['mosquitto'], { recommends: false });
  const dir = mkdtempSync(join(tmpdir(), 'mf-mosquitto-ha-'));
  const shipped = join(import.meta.dirname, '..', '..', 'deploy', 'ha', 'mosquitto');
  writeFileSync(join(dir, 'broker.crt'), options.server.chainPem);
  writeFileSync(join(dir, 'broker.key'), options.server.keyPem);
  writeFileSync(join(dir, 'acl'), readFileSync(join(shipped, 'acl')));
  writeFileSync(join(dir, 'ca.crt'), readFileSync(options.caFile));
  const config = readFileSync(join(shipped, 'mosquitto.conf'), 'utf8')
    .replace(/^listener 8883$/m, `listener ${options.port} 127.0.0.1`)
    .replace('/var/lib/mosquitto/', `${dir}/`)
    .replaceAll('/etc/mosquitto/metalfleet/nodes.crl', options.crlFile)
    .replaceAll('/etc/mosquitto/metalfleet/', `${dir}/`);
  writeFileSync(join(dir, 'mosquitto.conf'), `user ${process.getuid?.() === 0 ? 'root' : 'mosquitto'}\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n${config}`);
  let output = '';
  let child: ReturnType<typeof spawn> | null = null;
  const launch = async () => {
    const started = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    for (const stream of [started.stdout, started.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepting(options.port))) {
      if (Date.now() > deadline || started.exitCode !== null) throw new Error(`mosquitto did not listen on 127.0.0.1:${options.port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    url: `mqtts://127.0.0.1:${options.port}`,
    port: options.port,
    get pid() {
      return child?.pid ?? 0;
    },
    output: () => output,
    async restart() {
      await halt();
      await launch();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
