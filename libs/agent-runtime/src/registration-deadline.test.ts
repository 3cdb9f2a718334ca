// A registration try waits long for its answer: in a storm the answer is late, not lost.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import pino from 'pino';
import { createSimulatedBackend } from '@metalfleet/hardware';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import { registerUntilAccepted } from './registration.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe('a registration try', () => {
  it('gives the manager a minute to answer (15 s ran out on a starved manager, every agent asked again, and none of 10,000 registered)', async () => {
    const given: number[] = [];
    const server = new Server();
    addService(server, AgentService, {
      register: async (_request, context) => {
        given.push(context.deadlineMs - Date.now());
        return { nodeId: 'node-1', nodeCredential: 'secret' };
      },
      updateInventory: async () => ({}),
      claimCommand: async () => ({}),
      issueCertificate: async () => ({}),
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const stateDir = mkdtempSync(join(tmpdir(), 'mf-reg-deadline-'));
    cleanup.push(() => {
      server.forceShutdown();
      rmSync(stateDir, { recursive: true, force: true });
    });
    const { registration, connection } = await registerUntilAccepted({
      managerAddress: `127.0.0.1:${port}`, managerHost: '127.0.0.1', managerPort: port,
      backend: createSimulatedBackend({ seed: 'deadline', index: 0 }), readBootstrapToken: async () => 'plain-token', caFile: '', stateDir,
      version: 'test', logger: pino({ level: 'silent' }), backoff: { initialMs: 100, maxMs: 1000 }, signal: new AbortController().signal,
    });
    connection.close();
    expect(registration.nodeId).toBe('node-1');
    expect(given).toHaveLength(1);
    expect(given[0]).toBeGreaterThan(55_000);
  });
});
