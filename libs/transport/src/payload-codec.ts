// Decoding of protobuf payloads that arrive from the network (MQTT): bad input
// is a result, never a thrown error that could take down a subscription.
import { fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; error: string };

export function decodePayload<Desc extends DescMessage>(schema: Desc, payload: Uint8Array, maxBytes: number): DecodeResult<MessageShape<Desc>> {
  if (payload.length > maxBytes) return { ok: false, error: `payload of ${payload.length} bytes exceeds ${maxBytes}` };
  try {
    return { ok: true, message: fromBinary(schema, payload) };
  } catch (error) {
    return { ok: false, error: `malformed ${schema.typeName}: ${error instanceof Error ? error.message : String(error)}` };
  }
}
