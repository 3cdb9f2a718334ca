// Which broker of a cluster a node tries first. mqtt.js starts at the first of
// its servers and moves on at each failed or dropped connection: with every
// agent given the cluster's list in one order, all of them connected to its
// first node (7,461 MQTT connections on one NATS node and about 100 on the
// other two, 17 minutes into a 20,000-node storm), which then set up every
// session while the others idled. Each node starts at a broker of its own,
// chosen by its id: the same one at every reconnect, and the fleet spread
// evenly over the cluster.
import { createHash } from 'node:crypto';

/** `brokers` rotated to start at the one this node tries first. */
export function brokerOrder<T>(nodeId: string, brokers: readonly T[]): T[] {
  if (brokers.length < 2) return [...brokers];
  const first = createHash('sha256').update(nodeId).digest().readUInt32BE(0) % brokers.length;
  return [...brokers.slice(first), ...brokers.slice(0, first)];
}
