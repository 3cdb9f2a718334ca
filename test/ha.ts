// npm run ha: deploy/ha on this machine, to try it. Three manager replicas on
// a PostgreSQL of their own, a three-node NATS cluster (deploy/ha/nats) and
// simulated nodes; Ctrl-C stops and removes it all.
//   npm run ha -- --nodes 200 --replicas 3 [--postgres-url postgresql://…]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fleetCounts, startHaTopology } from './support/ha-topology.ts';
import { eventually } from './support/processes.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '50' }, replicas: { type: 'string', default: '3' }, 'postgres-url': { type: 'string', default: '' } } });
const nodes = Number(values.nodes);
const replicaCount = Number(values.replicas);
if (!Number.isInteger(nodes) || nodes < 0 || !Number.isInteger(replicaCount) || replicaCount < 1 || replicaCount > 9) {
  console.error('usage: npm run ha -- [--nodes N (0-20000)] [--replicas 1-9] [--postgres-url URL]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'metalfleet-ha-'));
console.log(`starting PostgreSQL, ${replicaCount} manager replica(s) and a three-node NATS cluster in ${dir} …`);
const ha = await startHaTopology({ dir, replicas: replicaCount, postgresUrl: values['postgres-url'] });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping …');
  await ha.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

console.log(`\nPostgreSQL: ${ha.postgresUrl} (schema ${ha.schema})`);
for (const replica of ha.replicas) console.log(`replica ${replica.dataDir.split('/').at(-1)} (pid ${replica.proc?.child.pid ?? '?'}): dashboard and API ${replica.http}  (gRPC ${replica.grpc})`);
for (const node of ha.cluster.nodes) console.log(`NATS ${node.name}: ${node.clientUrl}, MQTT ${node.mqttUrl}`);
console.log(`admin token: ${ha.replicas[0]!.adminToken}\nCA (trust it, or curl -k): ${ha.replicas[0]!.caFile}`);
if (nodes > 0) {
  ha.addNodes(nodes);
  const startedAt = Date.now();
  console.log(`\n${nodes} simulated nodes registering …`);
  let last = -1;
  await eventually(() => fleetCounts(ha.replicas[0]!), ({ registered, online }) => {
    if (online !== last) console.log(`  ${((Date.now() - startedAt) / 1000).toFixed(0)} s: ${registered} registered, ${online} online`);
    last = online;
    return online >= nodes;
  }, 30 * 60_000);
}
console.log('\nready. Try: kill -9 a replica (pids above), or a NATS node; watch /readyz and the dashboard. Ctrl-C stops it all.');
