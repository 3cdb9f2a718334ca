// Which broker of a cluster a node tries first, and next. mqtt.js starts at
// the first of its servers and moves on at each failed or dropped connection:
// with every agent given the cluster's list in one order, all of them
// connected to its first node (7,461 MQTT connections on one NATS node and
// about 100 on the other two, 17 minutes into a 20,000-node storm), which then
// set up every session while the others idled. Each node orders the brokers by
// a hash of its id and the broker (rendezvous hashing): the fleet spreads
// evenly, a node tries the same broker first at every reconnect, and the nodes
// of a broker that dies spread over all the others instead of all moving to
// the next one in the list (hostile review).
import { createHash } from 'node:crypto';

export interface BrokerAddress {
  host: string;
  port: number;
}

/** `brokers` in the order this node tries them. */
export function brokerOrder<T extends BrokerAddress>(nodeId: string, brokers: readonly T[]): T[] {
  const weight = (broker: T) => createHash('sha256').update(`${nodeId}\n${broker.host}:${broker.port}`).digest().readUInt32BE(0);
  return brokers.map((broker) => ({ broker, weight: weight(broker) })).sort((a, b) => b.weight - a.weight).map(({ broker }) => broker);
}
