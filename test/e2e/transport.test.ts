// The real manager's listeners as a client on the management or provisioning
// network meets them: HTTPS for the API and dashboard, a plain-HTTP boot port
// that serves only the boot endpoint, TLS 1.2+ with AEAD suites only on every
// TLS listener, and an MQTT broker that does not buffer what an
// unauthenticated client announces, nor take unlimited connections from one
// address.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mqttFixedHeader } from '@metalfleet/manager-transport';
import { ManagerProcess } from '../support/manager.ts';
import { cliBin } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-transport-'));
const perAddress = 20;
const manager = new ManagerProcess(join(dir, 'manager'), ['--mqtt-max-connections-per-address', String(perAddress)]);
const port = (url: string) => Number(new URL(url.replace(/^mqtts?:/, 'http:')).port);
const grpcPort = () => Number(manager.grpc.split(':').at(-1));

beforeAll(() => manager.start());

afterAll(async () => {
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Offer = { ciphers?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; alpn?: string[] };

/** A TLS handshake with the given offer: the negotiated version and cipher, or the error that ended it. */
function handshake(to: number, offer: Offer): Promise<{ version: string; cipher: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1', port: to, ca: manager.caPem, servername: 'localhost', maxVersion: offer.maxVersion ?? 'TLSv1.3',
      ...(offer.ciphers ? { ciphers: offer.ciphers } : {}), ...(offer.alpn ? { ALPNProtocols: offer.alpn } : {}),
    });
    socket.once('secureConnect', () => {
      const result = { version: socket.getProtocol() ?? '', cipher: socket.getCipher().standardName };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (error) => resolve({ error: error.message }));
  });
}

/** A plain HTTP/1.1 GET: the status, or the error when no HTTP answer came. */
function plainGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}

/** Over TLS to the broker: a CONNECT header announcing 250 MB, then its body until the manager closes the connection (or 64 MiB are out). */
function hostileConnect(): Promise<{ written: number; cut: boolean }> {
  const max = 64 * 1024 * 1024;
  return new Promise((resolve) => {
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: port(manager.mqtt), ca: manager.caPem, servername: 'localhost' }, () => {
      socket.write(mqttFixedHeader(0x10, 250 * 1024 * 1024));
      pump();
    });
    const pump = () => {
      while (!closed && written < max) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      if (!closed) resolve({ written, cut: false });
    };
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      resolve({ written, cut: written < max });
    });
  });
}

// The manager's certificates are ECDSA: the CBC suites it could otherwise be served with under TLS 1.2.
const cbcOnly = 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA';

describe('HTTPS for the API and dashboard, by default', () => {
  it('serves the API over HTTPS with a certificate the manager\'s CA verifies', async () => {
    expect(manager.http).toMatch(/^https:\/\//);
    expect(manager.caFile).toBe(join(manager.dataDir, 'pki', 'ca.crt'));
    expect((await manager.nodes()).items).toEqual([]);
    expect(await handshake(port(manager.http), {})).toMatchObject({ version: 'TLSv1.3' });
  });

  it('gives a plain-HTTP request with a token on the API port no HTTP answer', async () => {
    const plain = manager.http.replace(/^https:/, 'http:');
    expect(await plainGet(`${plain}/api/v1/nodes`, manager.auth())).toMatchObject({ error: expect.any(String) as unknown });
    expect(await plainGet(`${plain}/healthz`)).toMatchObject({ error: expect.any(String) as unknown });
  });
});

/** The CLI with a clean environment (its own HOME and config) and these arguments. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = join(dir, 'cli-home');
  return new Promise((resolve) => {
    execFile(process.execPath, [cliBin, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the CLI over HTTPS', () => {
  it('refuses a manager whose CA it was not given, and says how to give it', async () => {
    const run = await cli(['--manager', manager.http, '--token', manager.adminToken, 'nodes', 'ls']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/not trusted: give its CA with --ca-file/);
  });

  it('says the port speaks HTTPS when given an http:// URL', async () => {
    const run = await cli(['--manager', manager.http.replace(/^https:/, 'http:'), '--token', manager.adminToken, 'nodes', 'ls']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/speaks HTTPS on this port/);
  });

  it('logs in with --ca-file, saves the CA with the token (mode 600), and later commands trust it', async () => {
    const login = await cli(['--manager', manager.http, '--token', manager.adminToken, '--ca-file', manager.caFile, 'login']);
    expect(login).toMatchObject({ code: 0, stdout: expect.stringContaining('its CA saved too') as unknown });
    expect(statSync(join(dir, 'cli-home', '.config', 'metalfleet', 'config.json')).mode & 0o777).toBe(0o600);
    const list = await cli(['--json', 'nodes', 'ls']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ items: [], total: 0 });
  });
});

describe('the boot endpoint on its own plain-HTTP port', () => {
  it('answers iPXE over plain HTTP', async () => {
    expect(manager.boot).toMatch(/^http:\/\//);
    const script = await plainGet(`${manager.boot}/boot/ipxe?mac=52:54:00:aa:bb:cc`);
    expect(script).toMatchObject({ status: 200, body: expect.stringMatching(/^#!ipxe/) as unknown });
  });

  it('serves no API, dashboard, metrics or health there, with a token or without', async () => {
    for (const path of ['/api/v1/nodes', '/api/v1/tokens', '/api/v1/events', '/metrics', '/healthz', '/', '/api/docs/json']) {
      expect(await plainGet(`${manager.boot}${path}`, manager.auth()), path).toMatchObject({ status: 404 });
    }
  });
});

// Before any other test opens an MQTT connection, so that none of theirs still counts.
describe('MQTT connections per source address', () => {
  it(`refuses the connection over ${perAddress} from one address`, async () => {
    const held = await Promise.all(Array.from({ length: perAddress }, () => new Promise<TLSSocket>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: port(manager.mqtt), ca: manager.caPem, servername: 'localhost' }, () => resolve(socket));
      socket.on('error', () => undefined);
    })));
    expect(await handshake(port(manager.mqtt), {})).toMatchObject({ error: expect.any(String) as unknown });
    await expect.poll(() => manager.proc?.lines.some((l) => l.includes('too many connections from this address'))).toBe(true);
    for (const socket of held) socket.destroy();
    // Their closes reach the manager, and the address gets in again.
    await expect.poll(async () => 'version' in (await handshake(port(manager.mqtt), {}))).toBe(true);
  });
});

describe.each([
  ['HTTPS', () => port(manager.http), undefined],
  ['gRPC', grpcPort, ['h2']],
  ['MQTT', () => port(manager.mqtt), undefined],
])('TLS policy of the %s listener', (_name, listenerPort, alpn) => {
  const withAlpn = alpn ? { alpn } : {};

  it('refuses a TLS 1.2 client that offers only CBC suites', async () => {
    expect(await handshake(listenerPort(), { ciphers: cbcOnly, maxVersion: 'TLSv1.2', ...withAlpn })).toMatchObject({ error: expect.stringMatching(/handshake failure|no shared cipher|alert/i) as unknown });
  });

  it('serves TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305, and TLS 1.3', async () => {
    for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      expect(await handshake(listenerPort(), { ciphers: suite, maxVersion: 'TLSv1.2', ...withAlpn }), suite).toMatchObject({ version: 'TLSv1.2', cipher: expect.stringMatching(/GCM|CHACHA20_POLY1305/) as unknown });
    }
    expect(await handshake(listenerPort(), withAlpn)).toMatchObject({ version: 'TLSv1.3' });
  });
});

describe('the MQTT broker before authentication', () => {
  it('cuts 10 CONNECTs announcing 250 MB each after a few bytes, not after the body', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => hostileConnect()));
    for (const result of results) {
      expect(result.cut).toBe(true);
      // What went out before the cut is what the sockets' kernel buffers took; the broker read a few KB of it.
      expect(result.written).toBeLessThan(16 * 1024 * 1024);
    }
    await expect.poll(() => manager.proc?.lines.some((l) => l.includes('"packet-too-large"'))).toBe(true);
  });
});

describe('--http-tls false', () => {
  it('serves the API over plain HTTP, and the CLI given https:// says so', async () => {
    const plain = new ManagerProcess(join(dir, 'plain-manager'), ['--http-tls', 'false']);
    await plain.start();
    try {
      expect(plain.http).toMatch(/^http:\/\//);
      expect(await plainGet(`${plain.http}/api/v1/nodes`, plain.auth())).toMatchObject({ status: 200 });
      const run = await cli(['--manager', plain.http.replace(/^http:/, 'https:'), '--token', plain.adminToken, 'nodes', 'ls']);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/answers plain HTTP here/);
    } finally {
      await plain.stop();
    }
  });
});
