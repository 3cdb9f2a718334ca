// The nodes' gRPC service (registration, certificates, command claims) on its
// storm listener. Over TLS the handshakes are done by the listener, a bounded
// number at a time (storm-listener.ts); the gate is kept for the metrics.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import { listenGrpcForStorm, listenGrpcTlsForStorm, type ConnectGate, type StormListener } from '@metalfleet/manager-transport';
import { agentServiceHandlers, type AgentServiceDeps } from '@metalfleet/fleet';
import { listenerPorts, type ManagerConfig } from './config.ts';
import { listenAs } from './listen-check.ts';

export interface AgentGrpc {
  port: number;
  /** The TLS handshake gate (null without TLS). */
  gate: ConnectGate | null;
  close(): Promise<void>;
}

export async function startAgentGrpc(config: ManagerConfig, deps: {
  service: AgentServiceDeps; tls: { keyPem: string; chainPem: string; clientCaPem?: string } | null; logger: Logger; level: (error: unknown) => 'debug' | 'error';
}): Promise<AgentGrpc> {
  const server = new Server({ 'grpc.max_receive_message_length': config.grpcMaxMessageBytes });
  addService(server, AgentService, agentServiceHandlers(deps.service),
    { onInternalError: (method, error) => deps.logger[deps.level(error)]({ err: error, method }, 'gRPC call failed') });
  const { tls } = deps;
  let gate: ConnectGate | null = null;
  const listener: StormListener = await listenAs(listenerPorts(config).grpc, config.listenHost, async () => {
    if (!tls) return listenGrpcForStorm(server, ServerCredentials.createInsecure(), { host: config.listenHost, port: config.grpcPort });
    const gated = await listenGrpcTlsForStorm(server, { ...tls, maxConcurrentHandshakes: config.grpcMaxConcurrentHandshakes, maxWaitMs: config.connectWaitS * 1000 },
      { host: config.listenHost, port: config.grpcPort });
    gate = gated.gate;
    return gated;
  });
  return {
    port: listener.address.port,
    get gate() {
      return gate;
    },
    async close() {
      await listener.close();
      await new Promise<void>((done) => server.tryShutdown(() => done()));
    },
  };
}
