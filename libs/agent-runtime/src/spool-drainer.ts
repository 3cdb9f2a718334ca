// Delivers the spool to the broker in order: publish the oldest entry (QoS 1),
// remove it once the broker acknowledged it, repeat. The manager acknowledges
// only what it stored; a dropped connection (or one it closed because a write
// failed) leaves the entry in the spool, the next session sends it again, and
// the manager stores each report once by its id.
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { nodeTopic, type NodeTopicKind } from '@metalfleet/transport';
import type { Spool } from './spool.ts';
import { failureFields } from './log-fields.ts';

export class SpoolDrainer {
  private readonly spool: Spool;
  private readonly logger: Logger;
  private session: { client: MqttClient; nodeId: string } | null = null;
  private draining = false;

  constructor(spool: Spool, logger: Logger) {
    this.spool = spool;
    this.logger = logger;
  }

  attach(client: MqttClient, nodeId: string): void {
    this.session = { client, nodeId };
    this.kick();
  }

  detach(): void {
    this.session = null;
  }

  /** Starts draining unless already draining or disconnected. Cheap to call often. */
  kick(): void {
    const session = this.session;
    if (this.draining || !session?.client.connected) return;
    this.draining = true;
    this.drain(session)
      .catch((error: unknown) => this.logger.warn({ ...failureFields(error), pending: this.spool.size() }, 'spool delivery paused; will resume on reconnect'))
      .finally(() => {
        this.draining = false;
        // A new connection came while the old one's last publish was pending (it is sent again on the new one, and
        // its PUBACK ends that loop): its own drain was refused then, so it starts now.
        if (this.session !== session) this.kick();
      });
  }

  private async drain(session: { client: MqttClient; nodeId: string }): Promise<void> {
    for (let entry = this.spool.head(); entry && this.session === session && session.client.connected; entry = this.spool.head()) {
      await session.client.publishAsync(nodeTopic(session.nodeId, entry.topic as NodeTopicKind), Buffer.from(entry.payload), { qos: 1 });
      this.spool.remove(entry.seq);
    }
  }
}
