// The HTTP side of the manager as one fastify app: tests call inject() on it
// without opening a port; manager.ts decides where it listens.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { FleetStore } from '@metalfleet/store';
import type { ApiTokens, BootstrapTokens, FleetEvents, JournalFeed } from '@metalfleet/fleet';
import type { TelemetryReader } from '@metalfleet/telemetry';
import { serverTlsOptions } from '@metalfleet/manager-transport';
import { installErrorHandling } from './errors.ts';
import { installNulGuard } from './nul-guard.ts';
import { installAccessControl } from './access.ts';
import { accessRoutes } from './access-routes.ts';
import { nodeActionRoutes, type NodeActionDeps } from './node-action-routes.ts';
import { nodeLifecycleRoutes } from './node-lifecycle-routes.ts';
import { acceptanceRoutes } from './acceptance-routes.ts';
import { evidenceRoutes } from './evidence-routes.ts';
import { failureRoutes, type FailureRouteDeps } from './failure-routes.ts';
import { alertRoutes, type AlertRouteDeps } from './alert-routes.ts';
import { eventStreamRoutes } from './event-stream.ts';
import { metricsRoutes, type ManagerMetrics } from './metrics-routes.ts';
import type { SkuProfile } from '@metalfleet/domain';
import { healthRoutes, type DependencyState } from './health-routes.ts';
import { nodeRoutes } from './node-routes.ts';
import { tokenRoutes } from './token-routes.ts';
import { fabricRoutes, type FabricRouteDeps } from './fabric-routes.ts';
import { operationRoutes, type OperationRouteDeps } from './operation-routes.ts';
import { powerRoutes, type PowerRouteDeps } from './power-routes.ts';
import { bootRoutes, type BootRouteDeps } from './boot-routes.ts';
import { identityRoutes } from './identity-routes.ts';
import { createIdentityReviews } from '@metalfleet/fleet';

export interface HttpAppDeps {
  store: FleetStore;
  /** The SKU profiles of --sku-profiles-file (acceptance testing; those of the API are in the store). */
  skuProfiles: { file: readonly SkuProfile[] };
  logger: Logger;
  version: string;
  startedAt: Date;
  now: () => Date;
  tokens: BootstrapTokens;
  apiTokens: ApiTokens;
  telemetry: TelemetryReader;
  events: FleetEvents;
  /** The fleet's event journal, as the event stream reads it. */
  feed: JournalFeed;
  metrics: ManagerMetrics;
  fabric: Omit<FabricRouteDeps, 'store'>;
  operations: Omit<OperationRouteDeps, 'store' | 'now'>;
  power: Omit<PowerRouteDeps, 'store'>;
  nodeActions: NodeActionDeps;
  failures: FailureRouteDeps['failures'];
  alerts: Omit<AlertRouteDeps, 'store' | 'now'>;
  /** The boot endpoint in this app (inject tests); null where it has a plain-HTTP listener of its own (boot-app.ts). */
  boot: Omit<BootRouteDeps, 'store' | 'events' | 'now'> | null;
  /** HTTPS with this key and chain, under the transport TLS policy; null: plain HTTP. */
  https?: { keyPem: string; chainPem: string } | null;
  /** Folder with the dashboard's static files; null serves no dashboard. */
  dashboardDir: string | null;
  /** The embedded MQTT broker's state, for /readyz; absent: /readyz checks the store only. */
  broker?: DependencyState;
  leases?: DependencyState;
}

export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger.child({ component: 'http' });
  // Unknown fields are refused, not silently dropped: a typo in a request must not pass for a default.
  const https = deps.https ? { https: serverTlsOptions(deps.https.keyPem, deps.https.chainPem) } : {};
  const options: FastifyServerOptions = { loggerInstance: logger, bodyLimit: 1024 * 1024, ajv: { customOptions: { removeAdditional: false } }, ...https };
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  installNulGuard(app);
  installAccessControl(app, { tokens: deps.apiTokens, store: deps.store, now: deps.now });
  await app.register(fastifySwagger, {
    openapi: { components: { securitySchemes: { apiToken: { type: 'http', scheme: 'bearer', description: 'API token (mfat.…): admin, operator or viewer, optionally scoped to a tenant.' } } }, info: { title: 'metalfleet manager API', version: deps.version, description: 'Fleet state, health, telemetry, bootstrap tokens, tenants and their networks, images, templates, reimage operations and power control of a bare-metal GPU fleet.' } },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
  // Each API route under the resource it is about (/api/v1/nodes/… → nodes), so the docs group them; a route may name its own.
  app.addHook('onRoute', (route) => {
    const resource = /^\/api\/v1\/([a-z-]+)/.exec(route.url)?.[1];
    if (resource && route.schema && route.schema.tags === undefined) route.schema = { ...route.schema, tags: [resource] };
  });
  await app.register(healthRoutes, { version: deps.version, startedAt: deps.startedAt, now: deps.now, store: deps.store, broker: deps.broker, leases: deps.leases });
  await app.register(nodeRoutes, { store: deps.store, telemetry: deps.telemetry, now: deps.now });
  await app.register(tokenRoutes, { tokens: deps.tokens, now: deps.now });
  await app.register(accessRoutes, { tokens: deps.apiTokens, store: deps.store, now: deps.now });
  await app.register(fabricRoutes, { store: deps.store, ...deps.fabric });
  await app.register(operationRoutes, { store: deps.store, now: deps.now, ...deps.operations });
  await app.register(powerRoutes, { store: deps.store, ...deps.power });
  await app.register(nodeActionRoutes, deps.nodeActions);
  await app.register(evidenceRoutes, { store: deps.store, now: deps.now });
  await app.register(acceptanceRoutes, { store: deps.store, fileProfiles: deps.skuProfiles.file });
  await app.register(nodeLifecycleRoutes, {
    store: deps.store, lifecycle: deps.fabric.lifecycle, reconciler: deps.fabric.reconciler,
  });
  await app.register(failureRoutes, { failures: deps.failures, now: deps.now });
  await app.register(alertRoutes, { store: deps.store, now: deps.now, ...deps.alerts });
  await app.register(identityRoutes, { reviews: createIdentityReviews({ store: deps.store, now: deps.now }) });
  if (deps.boot) await app.register(bootRoutes, { store: deps.store, events: deps.events, now: deps.now, ...deps.boot });
  await app.register(eventStreamRoutes, { feed: deps.feed, store: deps.store, apiTokens: deps.apiTokens, now: deps.now });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  if (deps.dashboardDir) {
    await app.register(fastifyStatic, { root: deps.dashboardDir, prefix: '/', index: 'index.html' });
    // What browsers ask for before they read the page's icon link.
    app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/favicon.svg', 301));
  }
  return app;
}
