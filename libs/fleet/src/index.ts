// The manager's fleet logic, by kind (each folder's files are exported here):

// Wire adapters: protobuf from agents in, domain types out (the only place protobuf is read or built).
export * from './wire/agent-service.ts';
export * from './wire/health-ingest.ts';
export * from './wire/mqtt-ingest.ts';
export * from './wire/telemetry-ingest.ts';

// The fleet event bus and who may see which event.
export * from './events/event-visibility.ts';
export * from './events/fleet-events.ts';

// Controllers: the lifecycle, its effects, reimages, commands, presence, remediation, the fabric.
export * from './controllers/command-outbox.ts';
export * from './controllers/command-withdrawals.ts';
export * from './controllers/fabric-reconciler.ts';
export * from './controllers/lifecycle-controllers.ts';
export * from './controllers/acceptance.ts';
export * from './controllers/lifecycle-effects.ts';
export * from './controllers/owed-replacements.ts';
export * from './controllers/lifecycle.ts';
export * from './controllers/presence-tracker.ts';
export * from './controllers/reimages.ts';
export * from './controllers/remediation.ts';

// Services behind the API: registration, tenants, templates, tokens, enrollments, identity reviews.
export * from './services/api-tokens.ts';
export * from './services/bmc-networks.ts';
export * from './services/boot-tokens.ts';
export * from './services/lease-keeper.ts';
export * from './services/bootstrap-tokens.ts';
export * from './services/cluster-templates.ts';
export * from './services/enrollments.ts';
export * from './services/identity-reviews.ts';
export * from './services/node-credentials.ts';
export * from './services/shared-credentials.ts';
export * from './services/registrar.ts';
export * from './services/client-certificates.ts';
export * from './services/registration-admission.ts';
export * from './services/spares.ts';
export * from './services/tenants.ts';

// Sealed secrets and the key that seals them.
export * from './secrets/sealed-secrets.ts';
export * from './secrets/secret-box.ts';
export * from './secrets/secret-key-file.ts';
export * from './secrets/secrets.ts';

// The manager's clock: steady across host clock steps, carried on across restarts.
export * from './time/clock-anchor.ts';
export * from './time/downtime.ts';
export * from './time/steady-clock.ts';

// Failure analytics and alerting.
export * from './alerting/alert-engine.ts';
export * from './alerting/alert-rules.ts';
export * from './alerting/failures.ts';

// Outbound HTTP: the drain hook and alert notifiers.
export * from './outbound/drain-hook.ts';
export * from './outbound/notifiers.ts';
export * from './events/event-journal.ts';
export * from './events/journal-feed.ts';
