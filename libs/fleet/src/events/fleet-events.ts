// What happened in the fleet, for whoever listens (logs, SSE, controllers).
import type { ConflictKind } from '@metalfleet/store';
import type { AlertSeverity, AlertState, FailureKind, LifecycleEffect, LifecycleEvent, NodeState, Presence } from '@metalfleet/domain';

export type FleetEvent =
  | { type: 'node-registered'; nodeId: string; returning: boolean; via: string; at: Date }
  /** reason is generic: what the registering machine claimed stays in the conflict record, for operators. */
  | { type: 'identity-conflict'; conflictId: string; kind: ConflictKind; nodeIds: readonly string[]; reason: string; at: Date }
  | { type: 'registration-refused'; reason: string; peer: string; at: Date }
  /** A second registration with an install token of one reimage command: recorded as a conflict; the reimage fails. */
  | { type: 'install-conflict'; nodeId: string; commandId: string; conflictId: string; at: Date }
  /**
   * Refused for a reimage under way, without failing it: a second fetch of its install script (the token went to
   * the first), or a registration with its install token from another address than the fetch's. Someone else may
   * be after the node: an operator looks.
   */
  | { type: 'install-refused'; nodeId: string; commandId: string; step: 'boot-script' | 'registration'; peer: string; reason: string; at: Date }
  | { type: 'presence-changed'; nodeId: string; presence: Presence; reason: string; at: Date }
  | { type: 'bad-message'; nodeId: string; topic: string; error: string; at: Date }
  | { type: 'health-changed'; nodeId: string; eventId: string; changes: string[]; at: Date }
  | { type: 'health-duplicate'; nodeId: string; eventId: string; at: Date }
  | { type: 'health-digest'; nodeId: string; conditions: number; at: Date }
  | {
    type: 'state-changed'; nodeId: string; from: NodeState; to: NodeState; event: LifecycleEvent; actor: string; reason: string;
    effects: LifecycleEffect[]; at: Date;
  }
  | { type: 'tenant-created'; tenantId: string; name: string; vlan: number; vni: number; at: Date }
  | { type: 'tenant-deleted'; tenantId: string; at: Date }
  | { type: 'node-tenant-changed'; nodeId: string; tenantId: string | null; previous: string | null; at: Date }
  /** The manager moved a port to the VLAN its node's state calls for. */
  | { type: 'port-configured'; switchName: string; port: string; nodeId: string; vlan: number; previousVlan: number | null; why: string; at: Date }
  /** Someone changed a port behind the manager's back; it was put back. */
  | { type: 'port-drift-repaired'; switchName: string; port: string; nodeId: string; vlan: number; foundVlan: number | null; at: Date }
  | { type: 'cabling-warning'; nodeId: string; mac: string; message: string; at: Date }
  | { type: 'fabric-error'; switchName: string; message: string; at: Date }
  | { type: 'command-sent'; commandId: string; nodeId: string; kind: string; attempt: number; at: Date }
  | { type: 'command-progress'; commandId: string; nodeId: string; operationId: string | null; phase: 'acked' | 'running' | 'succeeded' | 'failed'; message: string; verifiedSha256: string; at: Date }
  /** Never acknowledged after every retry: escalated to whoever sent it. */
  | { type: 'command-expired'; commandId: string; nodeId: string; operationId: string | null; attempts: number; at: Date }
  | { type: 'operation-created'; operationId: string; kind: string; nodes: number; reason: string; at: Date }
  | { type: 'operation-progress'; operationId: string; nodeId: string; phase: string; message: string; at: Date }
  | { type: 'operation-finished'; operationId: string; state: 'succeeded' | 'failed'; done: number; failed: number; at: Date }
  /** The boot endpoint answered a machine: the manager's own evidence that it booted over the network (and into which image). */
  | { type: 'boot-script-served'; nodeId: string | null; mac: string; commandId: string | null; purpose: 'discovery' | 'install' | 'local'; peer: string; at: Date }
  /** An agent registered with an install token bound to this node and command: it runs the manager's install image. */
  | { type: 'install-registered'; nodeId: string; commandId: string; at: Date }
  | { type: 'enrollment-claimed'; nodeId: string; mac: string; bmcAddress: string; at: Date }
  | { type: 'remediation'; nodeId: string; action: string; reason: string; outcome: string; at: Date }
  /** A failure counted in the failure rates (recorded once). */
  | { type: 'failure-recorded'; nodeId: string; kind: FailureKind; code: string; at: Date }
  /** An alert moved along its lifecycle; tenantId is set when the alert is about one tenant. */
  | { type: 'alert-changed'; fingerprint: string; rule: string; severity: AlertSeverity; from: AlertState | null; to: AlertState; summary: string; tenantId: string | null; at: Date }
  | { type: 'notification-failed'; notifier: string; rule: string; error: string; at: Date };

export interface Emitted {
  /** Already in the event journal, written in its change's own transaction: the journal does not append it again. */
  journaled?: boolean;
}

/** What a listener returns is ignored, except a promise: its rejection is reported like a throw. */
export type FleetEventListener = (event: FleetEvent, emitted: Emitted) => unknown;

export interface FleetEventsOptions {
  /** A listener threw (or its promise rejected): the app logs it. The other listeners still get the event. */
  onListenerError?: (error: unknown, event: FleetEvent) => void;
}

/**
 * The in-process event bus. Listeners are held in a Set rather than an
 * EventEmitter: the manager's controllers, metrics and log are a dozen
 * long-lived listeners by design (an EventEmitter warns past ten), and one
 * listener that throws must not keep the event from the ones after it nor
 * unwind into whoever emitted. Edges that serve many clients (the SSE stream)
 * subscribe once and fan out themselves.
 */
export class FleetEvents {
  private readonly listeners = new Set<FleetEventListener>();
  private readonly onListenerError: (error: unknown, event: FleetEvent) => void;

  constructor(options: FleetEventsOptions = {}) {
    this.onListenerError = options.onListenerError ?? ((error, event) => {
      process.emitWarning(`a fleet event listener failed on ${event.type}: ${error instanceof Error ? error.message : String(error)}`, 'FleetEventListenerError');
    });
  }

  emit(event: FleetEvent, emitted: Emitted = {}): void {
    // A copy: a listener that unsubscribes (or subscribes) while the event is delivered does not change who gets this one.
    for (const listener of [...this.listeners]) {
      try {
        const result = listener(event, emitted);
        if (result instanceof Promise) result.catch((error: unknown) => this.report(error, event));
      } catch (error) {
        this.report(error, event);
      }
    }
  }

  on(listener: FleetEventListener): () => void {
    // Wrapped, so the same function subscribed twice is two subscriptions, each removed by its own `off`.
    const subscription: FleetEventListener = (event, emitted) => listener(event, emitted);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  /** Subscriptions now, for tests and gauges. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  private report(error: unknown, event: FleetEvent): void {
    try {
      this.onListenerError(error, event);
    } catch {
      // The reporter itself failed: nothing sensible is left to tell.
    }
  }
}
