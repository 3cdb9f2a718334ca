// Text a node chose (its host name, inventory strings, an error that quotes it)
// reaches the operator's terminal through the CLI: printed inert, never as the
// escape sequences that retitle the window or clear the screen.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inertText } from './terminal-text.ts';

const bin = fileURLToPath(new URL('../bin/metalfleet.js', import.meta.url));
const hostile = 'gpu-01\x1b]0;owned\x07\x1b[2J\x9b31m\r\u202eevil';
const node = {
  id: 'n1', hostname: hostile, presence: 'online', state: 'available', tenant: null, rack: 'r1', health: { severity: 'ok' }, gpuCount: 8, gpuModel: 'H100',
  identity: { systemUuid: 'u-1' }, lastSeenAt: '2026-11-27T12:00:00.000Z',
};

// A host name that, printed raw, adds a row of its own to `nodes ls`: a node the fleet does not have.
const forger = { ...node, id: 'n2', hostname: 'gpu-02\nn9        gpu-99    online    available' };

let server: Server;
let manager = '';
beforeAll(async () => {
  server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.url?.startsWith('/api/v1/nodes?') || request.url === '/api/v1/nodes') {
      response.end(JSON.stringify({ items: [node, forger], total: 2 }));
      return;
    }
    if (request.url === '/api/v1/tenants') {
      response.end(JSON.stringify({ items: [] }));
      return;
    }
    response.statusCode = 404;
    response.end(JSON.stringify({ error: { code: 'not-found', message: `no node named ${hostile}` } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  manager = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--manager', manager, '--token', 't', ...args], { env: { ...process.env, HOME: '/nonexistent' } },
      (_error, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

/** Nothing a terminal acts on: only printable text, newlines and tabs. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const expectInert = (text: string) => expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);

describe('a hostile host name', () => {
  it('is printed inert in a table, spelled out so an operator sees what it holds', async () => {
    const { stdout } = await cli(['nodes', 'ls']);
    expectInert(stdout);
    expect(stdout).toContain('gpu-01\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0d\\u202eevil');
  });

  it('is printed inert in --json, which still parses to the same value', async () => {
    const { stdout } = await cli(['--json', 'nodes', 'ls']);
    expectInert(stdout);
    expect((JSON.parse(stdout) as { items: Array<{ hostname: string }> }).items[0]?.hostname).toBe(hostile);
  });

  it('is printed inert in an error message that quotes it', async () => {
    const { stderr } = await cli(['nodes', 'show', 'n1']);
    expectInert(stderr);
    expect(stderr).toBe('metalfleet: no node named gpu-01\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0d\\u202eevil (not-found)\n');
  });

  it('cannot add a row to a table: a cell is one line, its newlines and tabs spelled out', async () => {
    const { stdout } = await cli(['nodes', 'ls']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3); // the header and the two nodes
    expect(lines[2]).toContain('gpu-02\\nn9');
    expect(lines.some((l) => l.startsWith('n9'))).toBe(false);
  });

  it('keeps newlines and tabs', () => {
    expect(inertText('a\tb\nc')).toBe('a\tb\nc');
  });
});
