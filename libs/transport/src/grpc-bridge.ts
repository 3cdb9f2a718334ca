// One typed bridge from protobuf-es service descriptors to grpc-js: no
// runtime .proto loading, no untyped clients. Unary calls only for now; a
// streaming method fails loudly when the service is bridged.
import {
  Client, Metadata, type CallOptions, type ChannelCredentials, type ChannelOptions, type Server,
  type MethodDefinition, type ServerUnaryCall, type ServiceError, type sendUnaryData, status,
} from '@grpc/grpc-js';
import {
  create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService,
  type MessageInitShape, type MessageShape,
} from '@bufbuild/protobuf';
import { DomainError } from '@metalfleet/domain';
import { toGrpcStatus, RpcError } from './grpc-errors.ts';

type MethodShape = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;

/** What a handler learns about its caller besides the request. */
export interface CallContext {
  metadata: Metadata;
  peer: string;
  method: string;
  /** Aborted once the caller has given up (its deadline passed, it cancelled or hung up): its answer would reach no one. */
  signal: AbortSignal;
  /** When the caller gives up (ms since the epoch, as it reached this server; Infinity: it set no deadline). */
  deadlineMs: number;
  /**
   * The client certificate of the caller's connection, when it presented one that chains to the CA the server
   * trusts for clients (what it means is the handler's to decide: revoked, whose); null otherwise.
   */
  peerCertificate: PeerCertificateName | null;
}

/** What identifies a client certificate: its subject's common name, and its serial as lower-case hex. */
export interface PeerCertificateName {
  commonName: string;
  serial: string;
}

/** The verified client certificate of a call's connection (grpc-js reports one only when the TLS socket authorized it). */
function peerCertificateOf(call: ServerUnaryCall<unknown, unknown>): PeerCertificateName | null {
  const certificate = call.getAuthContext().sslPeerCertificate;
  const commonName = certificate?.subject?.CN;
  if (!certificate || typeof commonName !== 'string' || !certificate.serialNumber) return null;
  return { commonName, serial: certificate.serialNumber.toLowerCase() };
}

export type UnaryHandler<M extends MethodShape> = (
  request: MessageShape<M['input']>,
  context: CallContext,
) => Promise<MessageInitShape<M['output']>>;

export type ServiceHandlers<S extends DescService> = {
  [K in keyof S['method']]: UnaryHandler<S['method'][K]>;
};

export type ServiceClient<S extends DescService> = {
  [K in keyof S['method']]: (
    request: MessageInitShape<S['method'][K]['input']>,
    options?: { metadata?: Metadata; deadlineMs?: number },
  ) => Promise<MessageShape<S['method'][K]['output']>>;
};

/** A request that could not be decoded reaches the handler wrapper as an error, not a crash. */
type Decoded<T> = { ok: true; message: T } | { ok: false; error: string };

export interface BridgeHooks {
  /** Called with errors that are not domain errors (bugs, I/O failures): log them here. */
  onInternalError?: (method: string, error: unknown) => void;
}

function methodPath(service: DescService, method: DescMethod): string {
  return `/${service.typeName}/${method.name}`;
}

function decode<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): Decoded<MessageShape<Desc>> {
  try {
    return { ok: true, message: fromBinary(schema, bytes) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function assertUnary(service: DescService): void {
  const streaming = service.methods.filter((m) => m.methodKind !== 'unary');
  if (streaming.length > 0) {
    throw new Error(`${service.typeName}: streaming methods are not bridged yet (${streaming.map((m) => m.name).join(', ')})`);
  }
}

/** Aborted when the caller of `call` gives up: it cancelled or hung up, or the deadline it sent passed. */
function callerSignal(call: ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; deadlineMs: number; done: () => void } {
  const controller = new AbortController();
  const giveUp = () => controller.abort(new DomainError('unavailable', 'the caller gave up on this call (its deadline passed, or it hung up)'));
  call.once('cancelled', giveUp);
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const timer = Number.isFinite(deadlineMs) ? setTimeout(giveUp, Math.max(0, deadlineMs - Date.now())) : null;
  timer?.unref();
  return {
    signal: controller.signal,
    deadlineMs,
    done: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', giveUp);
    },
  };
}

/** Adds a protobuf-es service with typed handlers to a grpc-js server. */
export function addService<S extends DescService>(server: Server, service: S, handlers: ServiceHandlers<S>, hooks: BridgeHooks = {}): void {
  assertUnary(service);
  const definition: Record<string, MethodDefinition<Decoded<MessageShape<DescMessage>>, MessageShape<DescMessage>>> = {};
  const implementation: Record<string, (call: ServerUnaryCall<Decoded<MessageShape<DescMessage>>, MessageShape<DescMessage>>, callback: sendUnaryData<MessageShape<DescMessage>>) => void> = {};
  const byName = handlers as Record<string, UnaryHandler<MethodShape>>;

  for (const method of service.methods) {
    const handler = byName[method.localName];
    if (!handler) throw new Error(`${service.typeName}.${method.name} has no handler`);
    const path = methodPath(service, method);
    definition[method.localName] = {
      path,
      requestStream: false,
      responseStream: false,
      originalName: method.localName,
      requestSerialize: (decoded: Decoded<MessageShape<DescMessage>>) =>
        Buffer.from(decoded.ok ? toBinary(method.input, decoded.message) : new Uint8Array()),
      requestDeserialize: (bytes: Buffer) => decode(method.input, bytes),
      responseSerialize: (message: MessageShape<DescMessage>) => Buffer.from(toBinary(method.output, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
    implementation[method.localName] = (call, callback) => {
      const decoded = call.request;
      if (!decoded.ok) {
        callback({ code: status.INVALID_ARGUMENT, details: `malformed ${method.input.typeName}: ${decoded.error}` });
        return;
      }
      const caller = callerSignal(call);
      const context: CallContext = {
        metadata: call.metadata, peer: call.getPeer(), method: path, signal: caller.signal, deadlineMs: caller.deadlineMs, peerCertificate: peerCertificateOf(call),
      };
      // The handler and the building of its reply run inside one promise, so
      // anything that throws (a handler that throws before its first await, a
      // reply create() cannot read) is answered with a status, never left
      // unanswered as an unhandled rejection.
      const reply = (async () => create(method.output, await handler(decoded.message, context)))();
      reply.finally(caller.done).then(
        (message) => callback(null, message),
        (error: unknown) => {
          const grpcStatus = toGrpcStatus(error);
          if (grpcStatus.code === status.INTERNAL) hooks.onInternalError?.(path, error);
          callback(grpcStatus);
        },
      );
    };
  }
  server.addService(definition, implementation);
}

/** A typed client for a protobuf-es service. Errors arrive as RpcError with a domain code. */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  credentials: ChannelCredentials,
  channelOptions: ChannelOptions = {},
): { client: ServiceClient<S>; close: () => void } {
  assertUnary(service);
  const channel = new Client(address, credentials, channelOptions);
  const calls: Record<string, (request: MessageInitShape<DescMessage>, options?: { metadata?: Metadata; deadlineMs?: number }) => Promise<MessageShape<DescMessage>>> = {};
  for (const method of service.methods) {
    const path = methodPath(service, method);
    calls[method.localName] = (request, options = {}) =>
      new Promise((resolve, reject) => {
        const callOptions: CallOptions = options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {};
        channel.makeUnaryRequest(
          path,
          (message: MessageShape<DescMessage>) => Buffer.from(toBinary(method.input, message)),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          create(method.input, request),
          options.metadata ?? new Metadata(),
          callOptions,
          (error: ServiceError | null, reply?: MessageShape<DescMessage>) => {
            if (error) reject(new RpcError(error));
            else if (reply) resolve(reply);
            else reject(new Error(`${path}: empty reply`));
          },
        );
      });
  }
  // The loop above builds one function per method of S; TypeScript cannot follow
  // a mapped type through a loop, so the record is given its mapped type here.
  return { client: calls as unknown as ServiceClient<S>, close: () => channel.close() };
}
