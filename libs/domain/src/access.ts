// Who may do what through the API: roles, the permissions they grant, and the
// API token format. A token may be scoped to one tenant: it then sees and acts
// only on that tenant's nodes and operations.

export const roles = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof roles)[number];

export const permissions = [
  /** Read the fleet: nodes, health, telemetry, operations, tenants, images, fabric, events, metrics, alerts. */
  'fleet:read',
  /** Act on nodes: lifecycle, reimage, power, BMC settings, enrollments. */
  'nodes:write',
  /** Tenants and their nodes, cluster templates. */
  'tenants:write',
  /** Silence alerts and manage alert rules. */
  'alerts:write',
  /** The image catalog, the cabling plan, bootstrap tokens, API tokens, the audit log. */
  'admin',
] as const;
export type Permission = (typeof permissions)[number];

const granted: Record<Role, readonly Permission[]> = {
  admin: permissions,
  operator: ['fleet:read', 'nodes:write', 'tenants:write', 'alerts:write'],
  viewer: ['fleet:read'],
};

/** Tenant-scoped tokens never get more than these, whatever their role. */
const tenantScopable: readonly Permission[] = ['fleet:read', 'nodes:write'];

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** Set: the token sees only this tenant. */
  tenantId: string | null;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

/** Whether `principal` may use a route that needs `permission`; `tenantAware`: the route filters by tenant itself. */
export function decideAccess(principal: Principal, permission: Permission, tenantAware: boolean): AccessDecision {
  if (!granted[principal.role].includes(permission)) {
    return { allowed: false, reason: `role ${principal.role} may not ${permission}` };
  }
  if (principal.tenantId !== null && (!tenantScopable.includes(permission) || !tenantAware)) {
    return { allowed: false, reason: `a token scoped to tenant ${principal.tenantId} may not use this route` };
  }
  return { allowed: true };
}

/** Whether a node (by its tenant) is visible to `principal`. */
export function canSeeTenant(principal: Principal, tenantId: string | null): boolean {
  return principal.tenantId === null || principal.tenantId === tenantId;
}

/** `mfat.<id>.<secret>`: the id finds the stored hash, the secret proves it. */
export function formatApiToken(id: string, secret: string): string {
  return `mfat.${id}.${secret}`;
}

export function parseApiToken(text: string): { id: string; secret: string } | null {
  const match = /^mfat\.([A-Za-z0-9_-]{8,32})\.([A-Za-z0-9_-]{32,64})$/.exec(text.trim());
  return match?.[1] && match[2] ? { id: match[1], secret: match[2] } : null;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: Role;
  tenantId: string | null;
  secretHash: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export function apiTokenState(token: ApiTokenRecord, now: Date): 'active' | 'expired' | 'revoked' {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && token.expiresAt <= now) return 'expired';
  return 'active';
}

/** One mutating API call, as the audit log keeps it. */
export interface AuditEntry {
  at: Date;
  tokenId: string;
  actor: string;
  method: string;
  /** The route pattern, e.g. POST /api/v1/nodes/:id/reimage. */
  route: string;
  /** What it acted on (the path with its ids). */
  target: string;
  status: number;
  /** The error message of a refused or failed call; empty on success. */
  error: string;
  /** What the call changed where the target does not say it (a BMC's driver and address); never a secret. */
  detail?: string;
}
