// Commands the manager gave up on (expired) or replaced (superseded), kept so
// the embedded broker can drop their queued deliveries: aedes asks its
// authorizeForward hook for every message it takes out of a node's persistent
// session when the node reconnects, and removes the ones refused from the
// session. This is the first of two layers; the second is the agent's claim
// before it runs anything (docs/agent-commands.md), which also covers a
// delivery already on its way when the command was withdrawn.
//
// A delivery whose deadline (expires_at, the manager's clock, never later than
// the give-up) has passed is dropped on that alone, whatever this list holds: it
// is empty after a restart and forgets after a day, and a node's session may
// hold a command longer than either. The list is needed only for a command
// superseded before its deadline.
import { parseNodeTopic } from '@metalfleet/transport';
import { commandDeadlineOf } from '../wire/command-wire.ts';

/** How long a withdrawn id is remembered: far longer than any delivery's deadline, after which that alone drops it. */
const rememberMs = 24 * 3600_000;

export function createCommandWithdrawals(now: () => Date) {
  // Insertion order is withdrawal order: the oldest are pruned from the front.
  const withdrawn = new Map<string, number>();

  const prune = (at: number) => {
    for (const [id, when] of withdrawn) {
      if (at - when < rememberMs) break;
      withdrawn.delete(id);
    }
  };

  return {
    withdraw(commandId: string): void {
      const at = now().getTime();
      prune(at);
      withdrawn.delete(commandId);
      withdrawn.set(commandId, at);
    },

    isWithdrawn: (commandId: string): boolean => withdrawn.has(commandId),

    /** For the broker: whether a message to a node may still go out (false only for a withdrawn command, or one past its deadline). */
    mayForward(topic: string, payload: Uint8Array): boolean {
      if (parseNodeTopic(topic)?.kind !== 'commands') return true;
      const { commandId, expiresAt } = commandDeadlineOf(payload);
      if (expiresAt !== null && expiresAt.getTime() <= now().getTime()) return false;
      return !withdrawn.has(commandId);
    },
  };
}

export type CommandWithdrawals = ReturnType<typeof createCommandWithdrawals>;
