// Building the protobuf payloads the agent publishes.
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { NodeStatusSchema, Presence, TelemetrySchema } from '@metalfleet/proto';
import type { TelemetryReading } from '@metalfleet/hardware';

/** A status of the agent's session `sessionId`, in its `connection`th connection to the broker (0: not said). */
export function statusPayload(presence: 'online' | 'offline', at: Date, agentVersion: string, sessionId: string, connection = 0): Uint8Array {
  return toBinary(NodeStatusSchema, create(NodeStatusSchema, {
    presence: presence === 'online' ? Presence.ONLINE : Presence.OFFLINE,
    at: timestampFromDate(at),
    agentVersion,
    // The proto's bootId field carries the agent's session id (a new one each session).
    bootId: sessionId,
    connection,
  }));
}

export function telemetryPayload(reading: TelemetryReading): Uint8Array {
  return toBinary(TelemetrySchema, create(TelemetrySchema, {
    at: timestampFromDate(reading.at),
    cpuLoadPercent: reading.cpuLoadPercent,
    memoryUsedBytes: BigInt(Math.round(reading.memoryUsedBytes)),
    memoryTotalBytes: BigInt(Math.round(reading.memoryTotalBytes)),
    uptimeSeconds: reading.uptimeSeconds,
    gpus: reading.gpus.map((g) => ({
      index: g.index, uuid: g.uuid, temperatureC: g.temperatureC, powerW: g.powerW, utilizationPercent: g.utilizationPercent,
      memoryUsedBytes: BigInt(Math.round(g.memoryUsedBytes)), eccVolatileUncorrected: BigInt(g.eccVolatileUncorrected),
      eccVolatileCorrected: BigInt(g.eccVolatileCorrected), clockEventReasons: g.clockEventReasons, memoryTemperatureC: g.memoryTemperatureC,
    })),
  }));
}
