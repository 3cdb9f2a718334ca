// Cluster templates: image + hardware profile + tenant + size. Applying one
// tops the tenant up to the template's size: it allocates matching spares and
// reimages them all in one operation, within the scheduler's limits.
import { DomainError, imageLabel, pickSpare, type ClusterTemplate } from '@metalfleet/domain';
import type { FleetStore, OperationRecord } from '@metalfleet/store';
import type { Reimages } from '../controllers/reimages.ts';
import { spareCandidates } from './spares.ts';
import type { Tenants } from './tenants.ts';

export interface TemplateDeps {
  store: FleetStore;
  tenants: Tenants;
  reimages: Reimages;
  now: () => Date;
  newId: () => string;
  /** Only nodes whose latest acceptance run passed are spares (--acceptance on). */
  acceptanceRequired?: boolean;
}

/** Nodes that count towards a tenant's size: allocated to it and not failed (accepting: after its reimage). */
/** The states in which a node counts toward its tenant's template. */
export const servingStates: ReadonlySet<string> = new Set(['allocated', 'provisioning', 'accepting', 'active']);

export function createClusterTemplates(deps: TemplateDeps) {
  return {
    async create(input: Omit<ClusterTemplate, 'id' | 'createdAt'>): Promise<ClusterTemplate> {
      if (!(await deps.store.getImage(input.image))) throw new DomainError('not-found', `no image ${imageLabel(input.image)} in the catalog`);
      if (!(await deps.store.getTenant(input.tenantId))) throw new DomainError('not-found', `no tenant ${input.tenantId}`);
      const template: ClusterTemplate = { ...input, id: deps.newId(), createdAt: deps.now() };
      await deps.store.createTemplate(template);
      return template;
    },

    /** The tenant's template (the first one, when there are several): what a replacement is built from. */
    async forTenant(tenantId: string): Promise<ClusterTemplate | null> {
      return (await deps.store.listTemplates()).find((t) => t.tenantId === tenantId) ?? null;
    },

    async apply(templateId: string, actor: string): Promise<{ operation: OperationRecord | null; allocated: string[]; already: number }> {
      const template = await deps.store.getTemplate(templateId);
      if (!template) throw new DomainError('not-found', `no template ${templateId}`);
      const members = (await deps.store.listNodes()).filter((n) => n.tenant === template.tenantId && servingStates.has(n.state));
      const missing = template.nodeCount - members.length;
      if (missing <= 0) return { operation: null, allocated: [], already: members.length };
      // Pick every spare first: a template that cannot be filled allocates nothing.
      const candidates = await spareCandidates(deps.store, deps.acceptanceRequired);
      const picked = new Set<string>();
      for (let i = 0; i < missing; i += 1) {
        const pick = pickSpare({ id: '', rack: members[0]?.rack ?? '' }, template.profile, candidates, picked);
        if (!pick.ok) throw new DomainError('conflict', `template ${template.name} needs ${missing} more node(s), only ${picked.size} available: ${pick.reason}`);
        picked.add(pick.spareId);
      }
      const allocated: string[] = [];
      try {
        for (const nodeId of picked) {
          await deps.tenants.allocateNode(template.tenantId, nodeId, actor);
          allocated.push(nodeId);
        }
      } catch (error) {
        for (const nodeId of allocated) await deps.tenants.releaseNode(template.tenantId, nodeId, actor).catch(() => undefined);
        throw error;
      }
      const operation = await deps.reimages.create({
        kind: 'apply-template', image: template.image, nodeIds: allocated, priority: 0, urgent: false, actor, reason: `template ${template.name}: ${allocated.length} node(s) for tenant ${template.tenantId}`,
      });
      return { operation, allocated, already: members.length };
    },
  };
}

export type ClusterTemplates = ReturnType<typeof createClusterTemplates>;
