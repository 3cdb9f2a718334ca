// Commands to agents, with the outbox pattern: a command is written to the
// store before it is published (QoS 1, the node's persistent session), sent
// again while unacknowledged, and given up (escalated) after the last try.
// Progress comes back on the node's `progress` topic; a node can report only
// on its own commands. After a restart, resume() sends what was in flight.
//
// A command the manager gave up on (expired) or replaced by a newer one of the
// same kind for the node (superseded) is withdrawn: its queued deliveries are
// dropped from the node's session (CommandWithdrawals, through the broker), and
// the agent, which claims each command before it runs it (claim() here, over
// gRPC), is told not to run it. A claim and a give-up are one conditional store
// update each, so exactly one of them wins (docs/agent-commands.md).
import { checkAgentCommand, DomainError, refusedInState, supersedes, type AcceptanceFacts, type AgentCommand, type CommandKind } from '@metalfleet/domain';
import type { CommandRecord, CommandState, Fence, FleetStore } from '@metalfleet/store';
import type { NodeBroker } from '@metalfleet/manager-transport';
import { allNodesTopic, nodeTopic, parseNodeTopic } from '@metalfleet/transport';
import type { FleetEvents } from '../events/fleet-events.ts';
import { commandMessage, decodeCommandProgress, type CommandProgressPhase } from '../wire/command-wire.ts';
import type { CommandWithdrawals } from './command-withdrawals.ts';

export interface OutboxDeps {
  store: FleetStore;
  broker: NodeBroker;
  events: FleetEvents;
  now: () => Date;
  newId: () => string;
  /** How long a delivery waits for its ack before it is sent again. */
  ackTimeoutMs: number;
  /** Deliveries before the command is given up. */
  maxAttempts: number;
  maxPayloadBytes: number;
  /** Where withdrawn commands are listed for the broker; none: nothing is dropped from sessions. */
  withdrawals?: CommandWithdrawals;
  /**
   * The fence under which this replica sends a node's commands again and gives them up: its lease on the node's shard,
   * null when another replica owns the node now. None: this replica does it for every node, unfenced (tests).
   */
  fenceFor?: (nodeId: string) => Fence | null;
  /** Told what failed in work nobody waits for (sending a node its commands again when it comes online). */
  onError?: (error: unknown, context: Record<string, unknown>) => void;
}

export interface SendOptions {
  /** Whether the sender may still act (its lease): asked right before the command is published. */
  mayAct?: () => boolean;
}

/** The manager's answer to an agent's claim of a command before it runs it. */
export type ClaimAnswer =
  | { verdict: 'run' }
  | { verdict: 'claimed-before' | 'withdrawn' | 'unknown'; reason: string };

const refusedBy = 'refused by the agent: ';

// Which states a report may move a command from: a late ack never reopens a finished command.
const movesFrom: Record<CommandProgressPhase, readonly CommandState[]> = {
  acked: ['pending', 'sent'],
  running: ['pending', 'sent', 'acked', 'running'],
  // A reimage's result comes from the next boot, which may find the command expired (the node was power-cycled).
  succeeded: ['pending', 'sent', 'acked', 'running', 'expired'],
  failed: ['pending', 'sent', 'acked', 'running', 'expired'],
  refused: ['pending', 'sent', 'expired'],
};

export function createCommandOutbox(deps: OutboxDeps) {
  const followers = new Set<(progress: CommandProgress) => Promise<void>>();
  // The manager gives up no sooner than after the ack timeouts of a delivery made at `deliveredAt` and of each one
  // left: a deadline the agent may judge by, never later than the moment the manager really gives up.
  const givesUpAt = (attempt: number, deliveredAt: Date) => new Date(deliveredAt.getTime() + (Math.max(deps.maxAttempts - attempt, 0) + 1) * deps.ackTimeoutMs);
  const deliver = async (record: CommandRecord, attempt: number, at: Date, expiresAt = givesUpAt(attempt, at)): Promise<void> => {
    await deps.broker.publish(nodeTopic(record.nodeId, 'commands'), commandMessage(record, at, expiresAt), { qos: 1, retain: false });
    deps.events.emit({ type: 'command-sent', commandId: record.id, nodeId: record.nodeId, kind: record.kind, attempt, at });
  };

  /**
   * False when the command moved on since it was read (acked, expired, withdrawn by another path), or `fence` no longer
   * holds (the node's shard went to another replica): then it is not sent again from here.
   */
  async function publish(record: CommandRecord, attempt: number, fence?: Fence): Promise<boolean> {
    const at = deps.now();
    const next = { state: 'sent', attempts: attempt, ackDeadlineAt: new Date(at.getTime() + deps.ackTimeoutMs) } as const;
    if (!(await deps.store.updateCommand(record.id, ['pending', 'sent'], next, at, fence))) return false;
    await deliver(record, attempt, at);
    return true;
  }

  // Sweeps and the resume after a restart read a snapshot of the open commands
  // and publish from it: two of them at once would both find a command due and
  // send it twice. They run one after the other; a sweep asked for while one is
  // running joins it (the periodic timer comes back soon for what it missed).
  let lane: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = lane.then(work, work);
    lane = next.catch(() => undefined);
    return next;
  }
  let sweeping: Promise<void> | null = null;

  /**
   * The node's fence, or null when this replica leaves the node to another. Asked before each command: a sweep under
   * way when its replica was paused past its lease skips what it no longer owns when it wakes, and the store refuses
   * a write under a fence that lapsed meanwhile.
   */
  const ownFence = (nodeId: string): { fence?: Fence } | null => {
    if (!deps.fenceFor) return {};
    const fence = deps.fenceFor(nodeId);
    return fence ? { fence } : null;
  };

  async function sweepOnce(): Promise<void> {
    const at = deps.now();
    const open = await deps.store.openCommands();
    const openIds = new Set(open.map((command) => command.id));
    for (const id of repeatedAttempt.keys()) if (!openIds.has(id)) repeatedAttempt.delete(id);
    for (const command of open) {
      const due = command.state === 'pending' || (command.state === 'sent' && command.ackDeadlineAt !== null && command.ackDeadlineAt <= at);
      if (!due) continue;
      const own = ownFence(command.nodeId);
      if (!own) continue;
      if (command.attempts < deps.maxAttempts) {
        await publish(command, command.attempts + 1, own.fence);
      } else {
        await expire(command, `no ack after ${command.attempts} deliveries; withdrawn from the node`, at, own.fence);
      }
    }
  }

  /**
   * A newer command that does what an older one for the node, not yet acknowledged, would do replaces it: the older is
   * withdrawn. Written with the newer command in one store transaction against the agent's claims: an older one the
   * agent claimed since it was read here runs, and the newer one is written expired instead, not sent. (One claimed
   * before this read is not replaced: the newer command is sent after an acknowledged one, as any other.)
   */
  async function createReplacing(record: CommandRecord, at: Date): Promise<'sent' | 'expired'> {
    const replaces = (await deps.store.commandsOf(record.nodeId, 100))
      .filter((older) => older.id !== record.id && (older.state === 'pending' || older.state === 'sent') && supersedes(record, older));
    const ids = replaces.map((older) => older.id);
    const written = await deps.store.createCommandReplacing(record, ids, ids);
    for (const replaced of replaces) {
      const now = await deps.store.getCommand(replaced.id);
      if (now?.state !== 'expired' || !now.message.startsWith(`superseded by command ${record.id};`)) continue;
      deps.withdrawals?.withdraw(replaced.id);
      // Its operation (when it is not the newer command's own) hears that it will not run.
      if (replaced.operationId !== record.operationId) {
        deps.events.emit({ type: 'command-expired', commandId: replaced.id, nodeId: replaced.nodeId, operationId: replaced.operationId, attempts: replaced.attempts, at });
      }
    }
    return written;
  }

  /** Gives up a command not yet acknowledged: expired, withdrawn from the node's session, and said. False when it had moved on. */
  async function expire(command: CommandRecord, message: string, at: Date, fence?: Fence): Promise<boolean> {
    if (!(await deps.store.updateCommand(command.id, ['pending', 'sent'], { state: 'expired', message }, at, fence))) return false;
    deps.withdrawals?.withdraw(command.id);
    deps.events.emit({ type: 'command-expired', commandId: command.id, nodeId: command.nodeId, operationId: command.operationId, attempts: command.attempts, at });
    return true;
  }

  // The agent will never run it (withdrawn, or its deadline passed before it could claim it): given up, with the agent's word.
  // Returns whether the command stands refused (given up now, or before): its followers then take the step it causes.
  async function refused(command: CommandRecord, message: string, at: Date): Promise<boolean> {
    const text = `${refusedBy}${message}`;
    if (await expire(command, text, at)) return true;
    if (command.state !== 'expired') return false;
    // Its first refusal only: a node repeating it with other words must not grow the record without end.
    if (!command.message.includes(refusedBy)) await deps.store.updateCommand(command.id, ['expired'], { message: `${command.message}; ${text}` }, at);
    return true;
  }

  // Nodes whose agents said they are online since the last batch of redeliveries, the batch queued, and for each
  // command sent again so, the delivery (attempt) it repeated.
  const comingOnline = new Set<string>();
  let redelivering: Promise<number> | null = null;
  const repeatedAttempt = new Map<string, number>();

  /**
   * The same delivery again, its attempt and deadline kept, and each delivery repeated once: a node reconnecting (or
   * saying "online") again and again neither keeps a command alive nor has it published more than twice per attempt.
   */
  async function redeliverTo(nodeId: string): Promise<number> {
    // Another replica's node is not even looked up (a status reaches whichever replica the broker hands it to).
    if (!ownFence(nodeId)) return 0;
    let sent = 0;
    for (const command of await deps.store.commandsOf(nodeId, 100)) {
      if (command.state !== 'sent' || command.ackDeadlineAt === null || repeatedAttempt.get(command.id) === command.attempts) continue;
      // Asked for each command, as the sweep does: a replica whose lease lapsed meanwhile sends nothing more.
      if (!ownFence(nodeId)) return sent;
      // Read again right before it goes: one given up, claimed or sent again by the sweep since the batch read it is
      // not published (hostile review: the agent refused it at its claim, but it went out).
      const current = await deps.store.getCommand(command.id);
      if (current?.state !== 'sent' || current.attempts !== command.attempts) continue;
      const deliveredAt = new Date(command.ackDeadlineAt.getTime() - deps.ackTimeoutMs);
      await deliver(command, command.attempts, deps.now(), givesUpAt(command.attempts, deliveredAt));
      // Counted once published: a publish that failed leaves the repeat to the next "online".
      repeatedAttempt.set(command.id, command.attempts);
      sent += 1;
    }
    return sent;
  }

  async function resumeOnce(): Promise<number> {
    const unacked = (await deps.store.openCommands()).filter((c) => c.state === 'pending' || c.state === 'sent');
    let sent = 0;
    for (const command of unacked) {
      const own = ownFence(command.nodeId);
      if (own && (await publish(command, Math.min(command.attempts + 1, deps.maxAttempts), own.fence))) sent += 1;
    }
    return sent;
  }

  return {
    /**
     * Persists and publishes a command. With an `id` the call is idempotent: a
     * command already written under that id is returned as it is (the sweep
     * delivers it), so a caller resuming after a crash never sends it twice.
     * Fails with `conflict` when an older command it would replace was claimed by the
     * agent meanwhile: that one runs instead; this one is stored expired, not sent.
     */
    async send(nodeId: string, command: AgentCommand, operationId: string | null, id?: string, options: SendOptions = {}): Promise<CommandRecord> {
      // Typed by the caller, and its values checked here too: a command the agent would refuse is not stored or sent.
      const checked = checkAgentCommand(command.kind, command.args);
      if (!checked.ok) throw new DomainError('invalid-argument', checked.error);
      if (id) {
        const existing = await deps.store.getCommand(id);
        if (existing) return existing;
      }
      if (!(await deps.store.getNodeSummary(nodeId))) throw new DomainError('not-found', `no node ${nodeId}`);
      const at = deps.now();
      // Written as sent, first delivery and its deadline included, before it is published: a sweep running
      // meanwhile finds it not yet due instead of publishing it a second time; a lost publish goes again at the deadline.
      const record: CommandRecord = {
        id: id ?? deps.newId(), nodeId, operationId, ...checked.command, state: 'sent', attempts: 1, ackDeadlineAt: new Date(at.getTime() + deps.ackTimeoutMs),
        message: '', verifiedSha256: '', createdAt: at, updatedAt: at,
      };
      if ((await createReplacing(record, at)) === 'expired') {
        // An older command of the same effect was claimed first and runs: this one is kept as given up, and not sent.
        deps.withdrawals?.withdraw(record.id);
        const why = (await deps.store.getCommand(record.id))?.message ?? 'not sent';
        throw new DomainError('conflict', `command ${record.id} ${why}`, { commandId: record.id });
      }
      // Asked again just before it goes out: a replica paused past its lease meanwhile sends nothing when it wakes.
      if (options.mayAct && !options.mayAct()) throw new Error(`command ${record.id} not sent: this replica no longer does the per-node work (its lease lapsed)`);
      await deliver(record, 1, at);
      return record;
    },

    /**
     * An agent's claim of a command it is about to run (gRPC ClaimCommand, the node authenticated). Claimed
     * once: the command counts as acknowledged and is never given up. A withdrawn one is refused with why.
     */
    async claim(nodeId: string, commandId: string): Promise<ClaimAnswer> {
      const command = await deps.store.getCommand(commandId);
      // Another node's command is answered as no command at all: a node learns nothing of others.
      if (!command || command.nodeId !== nodeId) return { verdict: 'unknown', reason: `no command ${commandId} for this node` };
      const at = deps.now();
      // Sent for a state the node has left (an acceptance suite, the node allocated since): given up, never started.
      const state = (await deps.store.getNodeSummary(nodeId))?.state;
      const outOfState = state ? refusedInState(command.kind, state) : null;
      if (outOfState) await expire(command, `${outOfState}; withdrawn from the node`, at);
      else if (await deps.store.updateCommand(command.id, ['pending', 'sent'], { state: 'acked', message: 'claimed by the agent' }, at)) {
        deps.events.emit({ type: 'command-progress', commandId: command.id, nodeId, operationId: command.operationId, phase: 'acked', message: 'claimed by the agent', verifiedSha256: '', at });
        return { verdict: 'run' };
      }
      const current = (await deps.store.getCommand(commandId)) ?? command;
      if (current.state === 'expired') return { verdict: 'withdrawn', reason: `withdrawn by the manager: ${current.message}` };
      // Finished: whatever its kind, a redelivery (or a replay) does not start it again.
      if (current.state === 'succeeded' || current.state === 'failed') return { verdict: 'withdrawn', reason: `already ${current.state} at the manager; not run again` };
      return { verdict: 'claimed-before', reason: `already ${current.state} at the manager` };
    },

    /** Sends again what is due, gives up what has had every try. Run periodically; never overlaps itself or resume(). */
    sweep(): Promise<void> {
      sweeping ??= exclusive(sweepOnce).finally(() => {
        sweeping = null;
      });
      return sweeping;
    },

    /**
     * The manager gives up a command not yet acknowledged (its reimage failed or ended first): withdrawn from the node,
     * so a node that comes back later is refused when it claims it. False when the agent claimed it already (it runs).
     */
    async giveUp(commandId: string, reason: string): Promise<boolean> {
      const command = await deps.store.getCommand(commandId);
      return command !== null && expire(command, `${reason}; withdrawn from the node`, deps.now());
    },

    /**
     * The node's agent said it is online (a new connection): what it was sent and has not acknowledged goes again.
     * A restarted embedded broker forgot the node's session, and a command published while the node was still on its
     * reconnect backoff reached no one until the next delivery, an ack timeout later (30 s by default; the e2e reimage
     * test gave up a reboot so). Resolves with the number sent once done, and never rejects: what failed for a node is
     * told to `onError`, and the batch goes on with the others (one node's unreadable command stopped them all:
     * hostile review). Never to be awaited where the broker hands over a message (hostile review: a tenant's 100
     * statuses at QoS 0 then held every one of aedes' delivery places, each waiting on a publish that needed one).
     */
    redeliver(nodeId: string): Promise<number> {
      comingOnline.add(nodeId);
      // Statuses arriving meanwhile join the next batch: a node saying "online" a thousand times is looked up once.
      redelivering ??= exclusive(async () => {
        redelivering = null;
        const nodes = [...comingOnline];
        comingOnline.clear();
        let sent = 0;
        for (const node of nodes) {
          sent += await redeliverTo(node).catch((error: unknown) => {
            deps.onError?.(error, { step: 'commands sent again to a node come online', nodeId: node });
            return 0;
          });
        }
        return sent;
      });
      return redelivering;
    },

    /** After a restart: deliver again everything not yet acknowledged of the nodes this replica owns (the agent carries out each id once). */
    resume: (): Promise<number> => exclusive(resumeOnce),

    /** Listens for progress reports on every node's `progress` topic. */
    async listen(): Promise<void> {
      await deps.broker.subscribe(allNodesTopic('progress'), async ({ topic, payload }) => {
        const parsed = parseNodeTopic(topic);
        if (!parsed) return;
        const bad = (error: string) => deps.events.emit({ type: 'bad-message', nodeId: parsed.nodeId, topic, error, at: deps.now() });
        const decoded = decodeCommandProgress(payload, deps.maxPayloadBytes);
        if (!decoded.ok) return bad(decoded.error);
        const { report } = decoded;
        const { phase } = report;
        const command = await deps.store.getCommand(report.commandId);
        // Unknown, or another node's command: refused, nothing changes.
        if (!command || command.nodeId !== parsed.nodeId) return bad(`progress for command ${report.commandId}, which is not this node's`);
        const at = deps.now();
        const progress = (): CommandProgress => ({
          commandId: command.id, nodeId: command.nodeId, operationId: command.operationId, kind: command.kind, phase, message: report.message, verifiedSha256: report.verifiedSha256,
          acceptance: phase === 'succeeded' ? report.acceptance : null, at,
          madeAt: madeAt(report.madeAt, command.createdAt, at),
        });
        if (phase === 'refused') {
          // Awaited like any report's step (a reimage gives up its wait for the node): acknowledged once that is stored too.
          if (await refused(command, report.message, at)) for (const follower of [...followers]) await follower(progress());
          return;
        }
        const state: CommandState = phase;
        const changed = await deps.store.updateCommand(command.id, movesFrom[phase], {
          state, message: report.message, ...(report.verifiedSha256 ? { verifiedSha256: report.verifiedSha256 } : {}),
        }, at);
        // A late report changes nothing. The same report again is one the node sent again because its acknowledgement
        // never came (the manager stopped before it): what follows from it runs again, and each follower acts on it once.
        if (!changed && command.state !== phase) return;
        if (changed) deps.events.emit({ type: 'command-progress', commandId: command.id, nodeId: command.nodeId, operationId: command.operationId, phase, message: report.message, verifiedSha256: report.verifiedSha256, at });
        // Awaited: the node's report is acknowledged only once what it moves is stored too.
        for (const follower of [...followers]) await follower(progress());
      });
    },

    /** Runs `follower` on each report that moved a command (and on the same report sent again); the report is acknowledged after it. */
    follow(follower: (progress: CommandProgress) => Promise<void>): () => void {
      followers.add(follower);
      return () => void followers.delete(follower);
    },
  };
}

export interface CommandProgress {
  commandId: string;
  nodeId: string;
  operationId: string | null;
  kind: CommandKind;
  /** What an accept command's suite measured (its SUCCEEDED report); null otherwise. */
  acceptance: AcceptanceFacts | null;
  phase: CommandProgressPhase;
  message: string;
  verifiedSha256: string;
  /** When the manager received it. */
  at: Date;
  /**
   * When the agent made it, by its clock, held between the command's creation and `at`: a report the agent kept while
   * the manager was down arrives late, and its effect (a reboot acknowledged) happened when it was made. The agent is
   * the tenant's, so it can move this only within that window, never before the command existed.
   */
  madeAt: Date;
}

function madeAt(claimed: Date | null, created: Date, received: Date): Date {
  if (!claimed) return received;
  return new Date(Math.min(received.getTime(), Math.max(created.getTime(), claimed.getTime())));
}

export type CommandOutbox = ReturnType<typeof createCommandOutbox>;
