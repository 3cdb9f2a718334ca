import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Metadata, Server, ServerCredentials, credentials, status } from '@grpc/grpc-js';
import { AgentService, RegisterRequestSchema } from '@metalfleet/proto';
import { DomainError } from '@metalfleet/domain';
import { toBinary, create } from '@bufbuild/protobuf';
import { addService, createClient, type ServiceClient } from './grpc-bridge.ts';
import { RpcError, errorCodeKey } from './grpc-errors.ts';

let server: Server;
let address: string;
let client: ServiceClient<typeof AgentService>;
let close: () => void;
const internalErrors: unknown[] = [];
const gaveUp: string[] = [];

beforeAll(async () => {
  server = new Server();
  addService(server, AgentService, {
    async register(request, context) {
      if (request.bootstrapToken === 'bad') throw new DomainError('unauthenticated', 'bootstrap token expired');
      if (request.bootstrapToken === 'boom') throw new Error('database password is hunter2');
      // A reply the bridge cannot turn into a message: reading it throws.
      if (request.bootstrapToken === 'bad-reply') return { get nodeId(): string { throw new Error('reply built from hunter2'); } };
      // Waits until its caller gives up, and records that it learned so.
      if (request.bootstrapToken === 'wait') {
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        gaveUp.push(String(context.signal.reason));
        return {};
      }
      return { nodeId: `node-for-${request.identity?.systemUuid}`, nodeCredential: context.metadata.get('x-test')[0]?.toString() ?? '' };
    },
    async updateInventory() {
      return {};
    },
    async claimCommand() {
      return {};
    },
    async issueCertificate() {
      return {};
    },
  }, { onInternalError: (_m, e) => internalErrors.push(e) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  address = `127.0.0.1:${port}`;
  ({ client, close } = createClient(AgentService, address, credentials.createInsecure()));
});

afterAll(() => {
  close();
  server.forceShutdown();
});

describe('typed gRPC bridge', () => {
  it('round-trips a typed request and reply over a real connection', async () => {
    const metadata = new Metadata();
    metadata.set('x-test', 'secret-1');
    const reply = await client.register({ identity: { systemUuid: 'u-1' }, bootstrapToken: 'ok' }, { metadata });
    expect(reply.nodeId).toBe('node-for-u-1');
    expect(reply.nodeCredential).toBe('secret-1');
  });

  it('maps a domain error to its gRPC status and stable code', async () => {
    const error = await client.register({ bootstrapToken: 'bad' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ grpcStatus: status.UNAUTHENTICATED, code: 'unauthenticated', message: 'bootstrap token expired' });
  });

  it('answers INTERNAL without leaking the message of an unexpected error', async () => {
    const error = await client.register({ bootstrapToken: 'boom' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ grpcStatus: status.INTERNAL, code: 'internal', message: 'internal error' });
    expect(String(internalErrors.at(-1))).toContain('hunter2');
  });

  it('answers INTERNAL when the reply cannot be turned into a message, without leaking why', async () => {
    const error = await client.register({ bootstrapToken: 'bad-reply' }, { deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ grpcStatus: status.INTERNAL, code: 'internal', message: 'internal error' });
    expect(String(internalErrors.at(-1))).toContain('reply built from hunter2');
  });

  it('tells the handler when its caller gave up (the deadline passed), so it can stop before writing', async () => {
    const error = await client.register({ bootstrapToken: 'wait' }, { deadlineMs: 300 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ grpcStatus: status.DEADLINE_EXCEEDED });
    await expect.poll(() => gaveUp).toEqual([expect.stringMatching(/caller gave up/)]);
  });

  it('refuses a malformed protobuf with INVALID_ARGUMENT', async () => {
    const raw = new Client(address, credentials.createInsecure());
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // field 1, length far past the end
    const result = await new Promise<{ code: number; details: string }>((resolve) => {
      raw.makeUnaryRequest('/metalfleet.v1.AgentService/Register', (b: Buffer) => b, (b: Buffer) => b, garbage, (error) => {
        resolve({ code: error?.code ?? -1, details: error?.details ?? '' });
      });
    });
    raw.close();
    expect(result.code).toBe(status.INVALID_ARGUMENT);
    expect(result.details).toContain('malformed metalfleet.v1.RegisterRequest');
  });

  it('accepts bytes a protobuf-es encoder wrote (wire compatible)', async () => {
    const raw = new Client(address, credentials.createInsecure());
    const bytes = Buffer.from(toBinary(RegisterRequestSchema, create(RegisterRequestSchema, { identity: { systemUuid: 'u-2' } })));
    const code = await new Promise<number>((resolve) => {
      raw.makeUnaryRequest('/metalfleet.v1.AgentService/Register', (b: Buffer) => b, (b: Buffer) => b, bytes, (error) => resolve(error?.code ?? 0));
    });
    raw.close();
    expect(code).toBe(status.OK);
  });

  it('takes the domain code from the status when the code sent is not one of ours (an inherited property name)', async () => {
    const raw = new Server();
    raw.addService({
      register: {
        path: '/metalfleet.v1.AgentService/Register', requestStream: false, responseStream: false,
        requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
      },
    }, {
      register: (_call: unknown, callback: (error: { code: number; details: string; metadata: Metadata }) => void) => {
        const metadata = new Metadata();
        metadata.set(errorCodeKey, 'constructor');
        callback({ code: status.NOT_FOUND, details: 'no such node', metadata });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      raw.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const other = createClient(AgentService, `127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const error = await other.client.register({}).catch((e: unknown) => e);
      expect(error).toMatchObject({ grpcStatus: status.NOT_FOUND, code: 'not-found' });
    } finally {
      other.close();
      raw.forceShutdown();
    }
  });
});
