// A private PostgreSQL cluster for fault tests: its own data directory and loopback
// port, so a test can stop and restart it without touching the shared server on 5432.
// Uses the Debian packaging's initdb/pg_ctl; as root (CI containers) they run as `postgres`.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(base, v, 'bin', name)).find((p) => existsSync(p));
  if (!found) throw new Error(`no ${name} under ${base}: install the postgresql package`);
  return found;
}

export class PrivatePostgres {
  readonly dir: string;
  port = 0;
  private readonly asRoot = process.getuid?.() === 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'mf-private-pg-'));
  }

  /** postgresql://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private async exec(bin: string, args: string[]): Promise<void> {
    const [file, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', pgBin(bin), ...args]] : [pgBin(bin), args];
    await run(file, argv, { timeout: 60_000 });
  }

  async init(): Promise<void> {
    await this.create();
    await this.start();
  }

  /** Makes the cluster and picks its port, without starting it (a test that starts it later: `url` is known now). */
  async create(): Promise<void> {
    if (this.asRoot) {
      const { uid, gid } = await postgresIds();
      chownSync(this.dir, uid, gid);
    }
    this.port = await freePort();
    await this.exec('initdb', ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  }

  private options(): string {
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-o', this.options(), '-l', join(this.dir, 'server.log'), '-w', 'start']);
  }

  /** Stops the server (fast: open connections are terminated) and waits until it is down. */
  async stop(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  /** `pg_ctl restart -m fast`: connections are terminated and the server comes back at once. */
  async restart(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-o', this.options(), '-l', join(this.dir, 'server.log'), '-m', 'fast', '-w', 'restart']);
  }

  async destroy(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
