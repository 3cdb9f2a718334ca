// npm run bench (part), or alone: node test/bench/mqtt-qos2-hold.ts
// A node (any holder of a node credential) that publishes QoS 2 and never
// sends PUBREL, with a persistent session (clean: false), reconnecting between
// rounds. aedes keeps each unreleased QoS 2 publish until PUBREL, and its
// in-flight cap restarts with each connection, so this once grew the broker's
// memory by ~200 MB a round, for good. The broker is the manager's own
// (createNodeBroker), in a child process; printed: its RSS after each round and
// how many of the publishes it took (acknowledged with PUBREC).
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNodeBroker, mqttFixedHeader } from '@metalfleet/manager-transport';
import { rssMiB } from './proc-stats.ts';

const rounds = 3;
const publishesPerRound = 400;
const payloadBytes = 250 * 1024;

const field = (s: string) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)]);
const packet = (type: number, body: Buffer) => Buffer.concat([mqttFixedHeader(type, body.length), body]);

/** CONNECT (MQTT 3.1.1) with a user name and password and clean session off. */
const connectPacket = (nodeId: string, secret: string) =>
  packet(0x10, Buffer.concat([field('MQTT'), Buffer.from([4, 0xc0, 0, 60]), field(nodeId), field(nodeId), field(secret)]));

/** The head of a QoS 2 PUBLISH (its payload follows), written by hand so that no client library answers the PUBREC with a PUBREL. */
const topic = field('mf/v1/nodes/node-q/telemetry');
const publishHead = (id: number) =>
  Buffer.concat([mqttFixedHeader(0x34, topic.length + 2 + payloadBytes), topic, Buffer.from([id >> 8, id & 0xff])]);
const payload = Buffer.alloc(payloadBytes, 0x61);

/** One round: connect, send the publishes, count PUBRECs until all came back or the broker closed the connection. */
/** Message ids differ between rounds: aedes answers a held id again without storing it twice. */
function round(port: number, firstId: number): Promise<{ pubrecs: number; cut: boolean }> {
  return new Promise((resolve) => {
    let pubrecs = 0;
    let finished = false;
    const socket: Socket = connect({ port, host: '127.0.0.1' }, () => socket.write(connectPacket('node-q', 'secret-q')));
    const finish = (cut: boolean) => {
      if (finished) return;
      finished = true;
      socket.destroy();
      resolve({ pubrecs, cut });
    };
    let connacked = false;
    let next = firstId;
    const pump = () => {
      while (!finished && next < firstId + publishesPerRound) {
        socket.write(publishHead(next));
        next += 1;
        if (!socket.write(payload)) return void socket.once('drain', pump);
      }
    };
    socket.on('data', (data: Buffer) => {
      // The broker answers with small packets only (CONNACK, PUBREC: 4 bytes each).
      for (let i = 0; i + 1 < data.length; i += 2 + (data[i + 1] ?? 0)) {
        const type = (data[i] ?? 0) >> 4;
        if (type === 2 && !connacked) {
          connacked = true;
          pump();
        }
        if (type === 5 && ++pubrecs === publishesPerRound) finish(false);
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
  });
}

/** The child: the broker, as the manager configures it, printing its port. */
async function serveBroker(): Promise<void> {
  const broker = await createNodeBroker({
    authenticateNode: async (nodeId, secret) => nodeId === 'node-q' && secret === 'secret-q',
    maxPayloadBytes: 262144,
  });
  await broker.subscribe('mf/v1/nodes/+/+', () => undefined);
  const { port } = await broker.listen(0, '127.0.0.1');
  console.log(String(port));
}

export async function runQos2HoldBench(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--broker'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);
    const pid = child.pid ?? 0;
    const rss = [rssMiB(pid).toFixed(0)];
    const taken: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const { pubrecs } = await round(port, 1 + i * publishesPerRound);
      taken.push(pubrecs);
      rss.push(rssMiB(pid).toFixed(0));
    }
    console.log(`a node with a persistent session: ${rounds} rounds of ${publishesPerRound} QoS 2 publishes of ${payloadBytes / 1024} KiB, never released (PUBREL), reconnecting in between:`);
    console.log(`  publishes the broker took per round: ${taken.join(', ')}; broker RSS after each round: ${rss.join(' → ')} MiB`);
  } finally {
    child.kill();
  }
}

if (process.argv[2] === '--broker') await serveBroker();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runQos2HoldBench();
  process.exit(0);
}
