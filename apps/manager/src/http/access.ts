// Authentication, permissions and the audit log for the REST API. Every route
// declares what it needs in its schema — `...needs('nodes:write')`, which is
// OpenAPI's `security` — or `...open` for the few that serve machines without
// a token (boot scripts, liveness). A route that declares neither is refused
// (and fails the route table test). Every mutating call is audited, refused
// ones included.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError, canSeeTenant, decideAccess, nodeDataSince, type Permission, type Principal } from '@metalfleet/domain';
import type { ApiTokens } from '@metalfleet/fleet';
import { isStoreOutage, type FleetStore } from '@metalfleet/store';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; null on open routes. */
    principal: Principal | null;
    auditError: string;
    /** What the call changes, for the audit log (never a secret). */
    auditDetail: string;
    /** On a node's routes: the earliest of its data the caller may see (null: all of it); see nodeDataSince. */
    nodeDataSince: Date | null;
  }
}

/** The scope that marks a route as filtering by tenant itself: tenant-scoped tokens may use it. */
export const tenantScope = 'tenant-scoped';

export function needs(permission: Permission, options: { tenantScoped?: boolean } = {}) {
  return { security: [{ apiToken: options.tenantScoped ? [permission, tenantScope] : [permission] }] };
}

/** No token: for machines (PXE, liveness probes), never for fleet data. */
export const open = { security: [] as Array<Record<string, string[]>> };

/** Paths served without a route schema: static files and the API's own docs. */
const unschematized = [/^\/images\//, /^\/api\/docs(\/|$)/];

type Declared = { kind: 'open' } | { kind: 'needs'; permission: Permission; tenantScoped: boolean } | { kind: 'undeclared' };

export function declaredAccess(schema: unknown): Declared {
  const security = (schema as { security?: Array<Record<string, string[]>> } | undefined)?.security;
  if (!security) return { kind: 'undeclared' };
  if (security.length === 0) return { kind: 'open' };
  const scopes = security[0]?.['apiToken'] ?? [];
  const permission = scopes.find((s) => s !== tenantScope) as Permission | undefined;
  return permission ? { kind: 'needs', permission, tenantScoped: scopes.includes(tenantScope) } : { kind: 'undeclared' };
}

/** The principal of a request on a route that needs one (set by the auth hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new DomainError('internal', 'route without a principal');
  return request.principal;
}

/** Who acted, for node histories and operations: "api <token name>". */
export function actorOf(request: FastifyRequest): string {
  return request.principal ? `api ${request.principal.name}` : 'api';
}

const mutating = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function installAccessControl(app: FastifyInstance, deps: { tokens: ApiTokens; store: FleetStore; now: () => Date }): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('auditError', '');
  app.decorateRequest('auditDetail', '');
  app.decorateRequest('nodeDataSince', null);

  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    // Unknown routes go on to the 404 handler; static files have no schema.
    if (url === undefined || unschematized.some((p) => p.test(request.url))) return;
    const declared = declaredAccess(request.routeOptions.schema);
    if (declared.kind === 'open') return;
    if (declared.kind === 'undeclared') {
      if (!url.startsWith('/api/') && url !== '/metrics') return;
      throw new DomainError('permission-denied', `route ${request.method} ${url} declares no permission`);
    }
    request.principal = await deps.tokens.authenticate(request.headers.authorization);
    const decision = decideAccess(request.principal, declared.permission, declared.tenantScoped);
    if (!decision.allowed) throw new DomainError('permission-denied', decision.reason);
    // Another tenant's node does not exist for a tenant-scoped token: the same 404 as a node that does not.
    const nodeId = (request.params as Record<string, string | undefined>)['id'];
    if (request.principal.tenantId !== null && url.startsWith('/api/v1/nodes/:id') && nodeId !== undefined) {
      const node = await deps.store.getNodeSummary(nodeId);
      if (!node || !canSeeTenant(request.principal, node.tenant)) throw new DomainError('not-found', `no node ${nodeId}`);
      // Its data from before its current allocation is the previous tenant's (its telemetry, health events, commands, history).
      request.nodeDataSince = nodeDataSince(request.principal, await deps.store.history(nodeId), deps.now());
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (mutating.has(request.method) && reply.statusCode >= 400 && typeof payload === 'string') {
      try {
        request.auditError = String((JSON.parse(payload) as { error?: { message?: string } }).error?.message ?? '');
      } catch {
        request.auditError = payload.slice(0, 200);
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (!mutating.has(request.method) || !request.url.startsWith('/api/')) return;
    const route = request.routeOptions.url ?? '(no route)';
    await deps.store.appendAudit({
      at: deps.now(), tokenId: request.principal?.tokenId ?? '', actor: request.principal?.name ?? 'anonymous', method: request.method,
      route: `${request.method} ${route}`, target: request.url.split('?')[0] ?? request.url, status: reply.statusCode, error: request.auditError, detail: request.auditDetail,
    }).catch((error: unknown) => request.log[isStoreOutage(error) ? 'debug' : 'error']({ err: error }, 'audit entry not written'));
  });
}
