// Registering at power-on: keep trying until the manager answers, with backoff,
// because a rack powers on before (or while) the manager is reachable.
import { setTimeout as sleep } from 'node:timers/promises';
import { durationMs } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { backoffDelay, isDomainError, type BackoffPolicy } from '@metalfleet/domain';
import type { HardwareBackend } from '@metalfleet/hardware';
import type { AgentService } from '@metalfleet/proto';
import { identityToProto, inventoryToProto, type ServiceClient } from '@metalfleet/transport';

export interface Registration {
  nodeId: string;
  credential: string;
  returning: boolean;
  mqttHost: string;
  mqttPort: number;
  telemetryIntervalMs: number;
  inventoryIntervalMs: number;
  healthIntervalMs: number | null;
  digestIntervalMs: number | null;
}

export interface RegisterDeps {
  client: ServiceClient<typeof AgentService>;
  /** Host the agent dialled for gRPC; the MQTT host when the manager names none. */
  managerHost: string;
  backend: HardwareBackend;
  readBootstrapToken: () => Promise<string>;
  version: string;
  logger: Logger;
  backoff: BackoffPolicy;
  signal: AbortSignal;
}

/** Resolves with a registration, or rejects when aborted or the request itself is invalid. */
export async function registerUntilAccepted(deps: RegisterDeps): Promise<Registration> {
  for (let attempt = 0; ; attempt += 1) {
    deps.signal.throwIfAborted();
    try {
      const [identity, inventory, token] = await Promise.all([deps.backend.identity(), deps.backend.inventory(), deps.readBootstrapToken()]);
      for (const failure of inventory.failures) deps.logger.warn({ failure }, 'inventory part failed; sending the rest');
      const reply = await deps.client.register(
        { identity: identityToProto(identity), inventory: inventoryToProto(inventory), bootstrapToken: token, agentVersion: deps.version },
        { deadlineMs: 15_000 },
      );
      return {
        nodeId: reply.nodeId,
        credential: reply.nodeCredential,
        returning: reply.returning,
        mqttHost: reply.mqtt?.host || deps.managerHost,
        mqttPort: reply.mqtt?.port ?? 0,
        telemetryIntervalMs: reply.intervals?.telemetry ? durationMs(reply.intervals.telemetry) : 15_000,
        inventoryIntervalMs: reply.intervals?.inventory ? durationMs(reply.intervals.inventory) : 3_600_000,
        healthIntervalMs: reply.intervals?.health ? durationMs(reply.intervals.health) : null,
        digestIntervalMs: reply.intervals?.healthDigest ? durationMs(reply.intervals.healthDigest) : null,
      };
    } catch (error) {
      if (isDomainError(error) && error.code === 'invalid-argument') throw error;
      const delay = backoffDelay(attempt, deps.backoff, Math.random());
      deps.logger.warn({ attempt: attempt + 1, retryInMs: delay, code: isDomainError(error) ? error.code : 'error', reason: error instanceof Error ? error.message : String(error) },
        'registration failed; retrying');
      await sleep(delay, undefined, { signal: deps.signal });
    }
  }
}
