// Presence (online/offline), kept apart from the lifecycle state. Fed by the
// retained status topic (with the agent's last will) and by telemetry as a
// heartbeat; a node silent for longer than the grace period is offline.
import type { Presence } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from './fleet-events.ts';

export interface PresenceDeps {
  store: FleetStore;
  events: FleetEvents;
  now: () => Date;
  heartbeatGraceMs: number;
}

export function createPresenceTracker(deps: PresenceDeps) {
  async function change(nodeId: string, presence: Presence, reason: string): Promise<void> {
    const at = deps.now();
    if (await deps.store.setPresence(nodeId, presence, at)) {
      deps.events.emit({ type: 'presence-changed', nodeId, presence, reason, at });
    }
  }

  return {
    /** The agent said so, or its last will did. */
    statusReported: (nodeId: string, presence: Presence, reason: string) => change(nodeId, presence, reason),

    /** Any sign of life (telemetry) keeps the node online. */
    async heartbeat(nodeId: string): Promise<void> {
      await deps.store.markSeen(nodeId, deps.now());
      await change(nodeId, 'online', 'heartbeat');
    },

    /** Marks offline every online node not heard from within the grace period. */
    async sweep(): Promise<string[]> {
      const before = new Date(deps.now().getTime() - deps.heartbeatGraceMs);
      const silent = await deps.store.silentNodes(before);
      for (const nodeId of silent) await change(nodeId, 'offline', `silent for more than ${deps.heartbeatGraceMs / 1000}s`);
      return silent;
    },
  };
}

export type PresenceTracker = ReturnType<typeof createPresenceTracker>;
