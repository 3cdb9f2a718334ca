// A child process of the load bench: N MQTT clients connect at once to a
// broker, then each publishes a protobuf Telemetry message (8 GPUs, stamped
// with the send time) every interval. Prints one JSON line when all are connected.
// With a credentials file (and the manager's CA), the clients are registered
// nodes publishing to the manager's own broker.
import { readFileSync } from 'node:fs';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import mqtt, { type MqttClient } from 'mqtt';
import { TelemetrySchema } from '@metalfleet/proto';

const [url = 'mqtt://127.0.0.1:1883', prefix = 'gen', countText = '100', intervalText = '1000', secondsText = '30', credentialsFile = '', caFile = ''] = process.argv.slice(2);
const nodes = credentialsFile ? (JSON.parse(readFileSync(credentialsFile, 'utf8')) as Array<{ nodeId: string; credential: string }>) : null;
const count = nodes ? nodes.length : Number(countText);
const ca = caFile ? readFileSync(caFile) : undefined;
const intervalMs = Number(intervalText);

function payload(): Uint8Array {
  return toBinary(TelemetrySchema, create(TelemetrySchema, {
    at: timestampFromDate(new Date()), cpuLoadPercent: 42, memoryUsedBytes: 1n << 36n, memoryTotalBytes: 1n << 41n,
    gpus: Array.from({ length: 8 }, (_, i) => ({ index: i, uuid: `GPU-${i}`, temperatureC: 60, powerW: 500, utilizationPercent: 90, memoryUsedBytes: 1n << 35n })),
  }));
}

const started = Date.now();
// Each client waits for its first CONNACK, riding out refusals and resets with mqtt.js's own reconnects (every
// second), as the agents ride them out with theirs: one refused connection must not end the comparison.
const clients: MqttClient[] = await Promise.all(Array.from({ length: count }, (_, i) => {
  const node = nodes?.[i];
  const client = mqtt.connect(url, {
    clientId: node?.nodeId ?? `${prefix}-${i}`, reconnectPeriod: 1000, connectTimeout: 60_000, keepalive: 60,
    ...(node ? { username: node.nodeId, password: node.credential } : {}), ...(ca ? { ca } : {}),
  });
  client.on('error', () => undefined);
  return new Promise<MqttClient>((resolve) => client.once('connect', () => resolve(client)));
}));
process.stdout.write(`${JSON.stringify({ connected: clients.length, connectMs: Date.now() - started })}\n`);

const timers = clients.map((client, i) => {
  const topic = `mf/v1/nodes/${nodes?.[i]?.nodeId ?? `${prefix}-${i}`}/telemetry`;
  // Spread the clients over the interval like real nodes booted at different times.
  const first = setTimeout(() => {
    client.publish(topic, Buffer.from(payload()), { qos: 0 });
    timers[i] = setInterval(() => client.publish(topic, Buffer.from(payload()), { qos: 0 }), intervalMs);
  }, Math.floor((i / count) * intervalMs));
  return first;
});

setTimeout(async () => {
  for (const t of timers) clearInterval(t);
  await Promise.all(clients.map((c) => c.endAsync()));
  process.exit(0);
}, Number(secondsText) * 1000);
