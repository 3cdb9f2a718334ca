// What the nodes really sent, counted on the broker cluster itself: a plain
// NATS subscriber (no queue group) sees every telemetry message once, whichever
// replica the queue group hands it to. Set beside the replicas' own counters,
// it tells nodes that send too much from replicas that count twice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { loadNatsAccounts, mqttFilterToSubject } from '@metalfleet/manager-transport';
import { allNodesTopic, parseNodeTopic } from '@metalfleet/transport';
import type { HaTopology } from '../support/ha-topology.ts';

export interface TapCount {
  messages: number;
  /** Nodes heard from in the window. */
  nodes: number;
  /** Nodes that sent more than the interval allows in the window (two sessions of one node, a reading sent twice). */
  overSending: number;
}

/** Starts counting the telemetry messages on the cluster; `stop` says what was counted. */
export async function tapTelemetry(ha: HaTopology, windowS: number, intervalS: number): Promise<{ stop: () => Promise<TapCount> }> {
  const replica = ha.replicas[0]!;
  const { jwt, seed } = await loadNatsAccounts(join(replica.dataDir, 'pki')).managerCredentials();
  const nc = await connect({ servers: ha.cluster.nodes[0]!.clientUrl, authenticator: jwtAuthenticator(jwt, seed), tls: { ca: readFileSync(replica.caFile, 'utf8') } });
  const perNode = new Map<string, number>();
  let messages = 0;
  const sub = nc.subscribe(mqttFilterToSubject(allNodesTopic('telemetry')), {
    callback: (_error, message) => {
      messages += 1;
      const nodeId = parseNodeTopic(message.subject.split('.').join('/'))?.nodeId ?? '';
      perNode.set(nodeId, (perNode.get(nodeId) ?? 0) + 1);
    },
  });
  // At most one more than the window holds intervals: a node's timer may fire at both of its ends.
  const allowed = Math.ceil(windowS / intervalS) + 1;
  return {
    async stop() {
      sub.unsubscribe();
      await nc.close();
      return { messages, nodes: perNode.size, overSending: [...perNode.values()].filter((n) => n > allowed).length };
    },
  };
}
