// The agent's life: register, keep a session, register again if the manager
// forgets the node, until stopped.
import { credentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { BackoffPolicy } from '@metalfleet/domain';
import type { HardwareBackend } from '@metalfleet/hardware';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { runMqttSession } from './mqtt-session.ts';
import { registerUntilAccepted } from './registration.ts';

export interface AgentOptions {
  /** gRPC address of the manager, host:port. */
  managerAddress: string;
  backend: HardwareBackend;
  readBootstrapToken: () => Promise<string>;
  version: string;
  logger: Logger;
  mqttProtocolVersion: 4 | 5;
  backoff: BackoffPolicy;
}

export function managerHost(address: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (bracketed?.[1]) return bracketed[1];
  const colon = address.lastIndexOf(':');
  return colon > 0 ? address.slice(0, colon) : address;
}

export async function runAgent(options: AgentOptions, signal: AbortSignal): Promise<void> {
  const { client, close } = createClient(AgentService, options.managerAddress, credentials.createInsecure());
  const logger = options.logger.child({ hardware: options.backend.label });
  try {
    while (!signal.aborted) {
      let registration;
      try {
        registration = await registerUntilAccepted({
          client, managerHost: managerHost(options.managerAddress), backend: options.backend, readBootstrapToken: options.readBootstrapToken,
          version: options.version, logger, backoff: options.backoff, signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      const nodeLogger = logger.child({ nodeId: registration.nodeId });
      nodeLogger.info({ returning: registration.returning }, registration.returning ? 'registered again (known machine)' : 'registered as a new node');
      const end = await runMqttSession({
        registration, client, backend: options.backend, version: options.version, logger: nodeLogger,
        mqttProtocolVersion: options.mqttProtocolVersion, signal,
      });
      if (end === 'stopped') return;
    }
  } finally {
    close();
  }
}
