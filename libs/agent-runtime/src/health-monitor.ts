// Evaluates health on an interval and spools what changed (edge-triggered),
// plus a periodic digest of the full set. Runs whether or not the manager is
// reachable: that is when the spool matters most.
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { diffHealth, evaluateHealth, type ConditionFinding, type GpuSnapshot, type HealthChange, type HealthCondition } from '@metalfleet/domain';
import type { HardwareBackend } from '@metalfleet/hardware';
import { HealthMessageSchema } from '@metalfleet/proto';
import { changeKindToProto, conditionToProto } from '@metalfleet/transport';
import type { Spool } from './spool.ts';

export interface HealthMonitorDeps {
  backend: HardwareBackend;
  spool: Spool;
  logger: Logger;
  /** Called after something was spooled, so it can go out at once. */
  onSpooled: () => void;
  /** Conditions of the agent itself, found at its start (a lost spool), reported with the hardware's. */
  agentFindings?: ConditionFinding[];
}

export class HealthMonitor {
  private readonly deps: HealthMonitorDeps;
  private current: HealthCondition[] = [];
  /** The last GPU readings and when (monotonic ms: a wall-clock step must not make a rate out of nothing). */
  private previousGpus: { snapshots: GpuSnapshot[]; atMs: number } | undefined;
  private running: Promise<HealthChange[]> | null = null;

  constructor(deps: HealthMonitorDeps) {
    this.deps = deps;
  }

  conditions(): HealthCondition[] {
    return [...this.current];
  }

  /** One evaluation; concurrent calls share the one in flight. */
  evaluate(): Promise<HealthChange[]> {
    this.running ??= this.evaluateOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async evaluateOnce(): Promise<HealthChange[]> {
    const { backend, spool, logger } = this.deps;
    const readings = await backend.health();
    const now = new Date();
    const nowMs = performance.now();
    const previous = this.previousGpus ? { snapshots: this.previousGpus.snapshots, elapsedSeconds: (nowMs - this.previousGpus.atMs) / 1000 } : undefined;
    const findings = [...evaluateHealth(readings, { ...backend.expectations(), now, ...(previous ? { previous } : {}) }), ...(this.deps.agentFindings ?? [])];
    if (readings.gpus?.ok) this.previousGpus = { snapshots: readings.gpus.gpus, atMs: nowMs };
    const diff = diffHealth(this.current, findings, now);
    this.current = diff.current;
    if (diff.changes.length > 0) {
      const eventId = randomUUID();
      const sequence = spool.bump('health-sequence');
      const payload = toBinary(HealthMessageSchema, create(HealthMessageSchema, {
        kind: {
          case: 'event',
          value: {
            eventId, sequence: BigInt(sequence), at: timestampFromDate(now),
            changes: diff.changes.map((c) => ({ kind: changeKindToProto[c.kind], condition: conditionToProto(c.condition), evidence: 'evidence' in c ? c.evidence ?? [] : [] })),
          },
        },
      }));
      spool.append('health', payload);
      logger.info({ eventId, sequence, changes: diff.changes.map((c) => `${c.kind} ${c.condition.component} ${c.condition.code}`) }, 'health event spooled');
      this.deps.onSpooled();
    }
    return diff.changes;
  }

  /** Spools the full current set; an older digest still waiting is replaced. */
  spoolDigest(): void {
    const payload = toBinary(HealthMessageSchema, create(HealthMessageSchema, {
      kind: { case: 'digest', value: { at: timestampFromDate(new Date()), conditions: this.current.map(conditionToProto) } },
    }));
    this.deps.spool.append('health', payload, 'digest');
    this.deps.onSpooled();
  }
}
