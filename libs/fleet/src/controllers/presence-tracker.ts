// Presence (online/offline), kept apart from the lifecycle state. Fed by the
// retained status topic (with the agent's last will) and by telemetry as a
// heartbeat; a node silent for longer than the grace period is offline.
import type { AgentConnection, Presence } from '@metalfleet/domain';
import type { Fence, FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';

export interface PresenceDeps {
  store: FleetStore;
  events: FleetEvents;
  now: () => Date;
  heartbeatGraceMs: number;
  /**
   * The fence under which this replica marks a node offline: its lease on the node's shard, null when another replica
   * owns the node now. None: every node, unfenced (one manager, tests).
   */
  fenceFor?: (nodeId: string) => Fence | null;
}

// Heartbeats arrive thousands of times a second: they update memory, and the
// last-seen times are written in one batch before each sweep. Presence itself
// is written only when it changes.
export function createPresenceTracker(deps: PresenceDeps) {
  const pendingSeen = new Map<string, Date>();
  const knownOnline = new Set<string>();

  async function change(nodeId: string, presence: Presence, reason: string, fence?: Fence, agent?: AgentConnection): Promise<void> {
    const at = deps.now();
    const changed = await deps.store.setPresence(nodeId, presence, at, fence, agent);
    // A last will of a connection the agent has since replaced changed nothing: the node stays known online.
    if (presence === 'online') knownOnline.add(nodeId);
    else if (changed || !agent?.session) knownOnline.delete(nodeId);
    if (changed) {
      deps.events.emit({ type: 'presence-changed', nodeId, presence, reason, at });
    }
  }

  async function flush(): Promise<void> {
    const seen = [...pendingSeen];
    pendingSeen.clear();
    // Marked offline meanwhile by another replica's sweep, while this one heard from them: online again.
    for (const nodeId of await deps.store.markSeenMany(seen)) {
      knownOnline.delete(nodeId);
      await change(nodeId, 'online', 'heard from after it was marked offline');
    }
  }

  return {
    /** The agent said so in its connection `agent`, or that connection's last will did. */
    statusReported: (nodeId: string, presence: Presence, reason: string, agent?: AgentConnection) => change(nodeId, presence, reason, undefined, agent),

    /** Any sign of life (telemetry, health) keeps the node online; only a change costs a write. */
    heartbeat(nodeId: string): Promise<void> | undefined {
      pendingSeen.set(nodeId, deps.now());
      return knownOnline.has(nodeId) ? undefined : change(nodeId, 'online', 'heartbeat');
    },

    flush,

    /** Marks offline every online node of this replica's not heard from within the grace period; returns them. */
    async sweep(): Promise<string[]> {
      await flush();
      const before = new Date(deps.now().getTime() - deps.heartbeatGraceMs);
      const marked: string[] = [];
      for (const nodeId of await deps.store.silentNodes(before)) {
        const fence = deps.fenceFor?.(nodeId);
        if (fence === null) continue;
        await change(nodeId, 'offline', `silent for more than ${deps.heartbeatGraceMs / 1000}s`, fence);
        marked.push(nodeId);
      }
      return marked;
    },
  };
}

export type PresenceTracker = ReturnType<typeof createPresenceTracker>;
