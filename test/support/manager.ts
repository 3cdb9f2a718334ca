// A real manager process for cross-app tests, restartable on the same ports.
//
// The manager serves its API over HTTPS with a certificate from its own CA.
// Once it is up, this test process trusts that CA for every TLS client that
// brings no CA of its own (tls.setDefaultCACertificates), so fetch(manager.http …)
// anywhere in a test works as it did over plain HTTP.
import { readFileSync } from 'node:fs';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { join } from 'node:path';
import type { NodeList } from '@metalfleet/api';
import { managerBin, start, type Proc } from './processes.ts';

/**
 * For benches that measure something else (storms, reimaging, load): acceptance testing (on by default) off, so their
 * figures compare with those measured before it was the default; `npm run bench -- acceptance` measures it.
 */
export const measuredWithoutAcceptance = ['--acceptance', 'off'] as const;

export class ManagerProcess {
  proc: Proc | null = null;
  /** https://host:port of the REST API and dashboard (http:// with --http-tls false). */
  http = '';
  /** http://host:port of the plain-HTTP boot endpoint (/boot/ipxe, /images/). */
  boot = '';
  /** The manager's CA certificate (<dataDir>/pki/ca.crt); '' when it has none. */
  caFile = '';
  grpc = '';
  /** mqtts://host:port (mqtt:// with --tls false). */
  mqtt = '';
  private ports: string[] = ['--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0', '--boot-port', '0'];
  readonly dataDir: string;
  private readonly extra: string[];

  private readonly nodeOptions: string[];
  /** How long start() waits for "manager ready" (a loaded machine, or a fleet dialling the manager as it starts, needs longer). */
  readyTimeoutMs = 30_000;
  /** Added to the manager's environment (e.g. libfaketime's, see faketime.ts). */
  private readonly env: Record<string, string>;
  /** The first start sets up a new manager (--init); later ones start it on the state it left. */
  private started = false;

  constructor(dataDir: string, extra: string[] = [], nodeOptions: string[] = [], env: Record<string, string> = {}) {
    this.dataDir = dataDir;
    this.extra = extra;
    this.nodeOptions = nodeOptions;
    this.env = env;
  }

  /** For a data directory that already holds state (an older manager's, as on an upgrade): the first start takes no --init either. */
  onExistingState(): this {
    this.started = true;
    return this;
  }

  get tokenFile(): string {
    return join(this.dataDir, 'bootstrap-token');
  }

  /** The admin API token the manager wrote at its first start. */
  get adminToken(): string {
    return readFileSync(join(this.dataDir, 'admin-token'), 'utf8').trim();
  }

  /** Headers for an API call as the admin. */
  auth(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.adminToken}`, ...extra };
  }

  async start(): Promise<void> {
    const init = this.started ? [] : ['--init'];
    this.proc = start(managerBin, ['--data-dir', this.dataDir, '--listen-host', '127.0.0.1', ...init, ...this.ports, ...this.extra], this.nodeOptions, this.env);
    const ready = await this.proc.waitForLog('manager ready', this.readyTimeoutMs);
    this.started = true;
    this.http = String(ready['http']);
    this.grpc = String(ready['grpc']);
    this.mqtt = String(ready['mqtt']);
    this.boot = String(ready['boot']);
    this.caFile = typeof ready['caFile'] === 'string' ? ready['caFile'] : '';
    if (this.caFile !== '') trustCa(readFileSync(this.caFile, 'utf8'));
    const port = (url: unknown) => String(url).split(':').at(-1) ?? '0';
    // The next start listens where agents already expect this manager.
    this.ports = ['--http-port', port(ready['http']), '--grpc-port', port(ready['grpc']), '--mqtt-port', port(ready['mqtt']), '--boot-port', port(ready['boot'])];
  }

  /** The manager's CA certificate (PEM). */
  get caPem(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
  }

  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.http}${path}`, { headers: this.auth() });
    if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** A JSON request to the REST API; a non-2xx answer throws with the status and body. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.http}${path}`, {
      method, headers: this.auth(body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  nodes(): Promise<NodeList> {
    return this.get<NodeList>('/api/v1/nodes');
  }
}

/** Adds a CA to the ones this process's TLS clients (fetch included) trust by default. */
export function trustCa(pem: string): void {
  const current = getCACertificates('default');
  if (!current.includes(pem)) setDefaultCACertificates([...current, pem]);
}
