// Tokens the boot endpoint hands out, which anyone on the provisioning network
// can ask for: scoped, short-lived, single use and capped, so asking many times
// yields nothing useful and fills nothing up.
//   discovery: only for a MAC no node has, bound to it (the registration must
//     report it), at most `discoveryPerMac` live per MAC and `discoveryMax`
//     live overall (live: not expired, used or not), so at most `discoveryMax`
//     per lifetime: the rate limit.
//   install: for a node whose reimage is rebooting or installing (with a BMC:
//     only after the manager's own power cycle, boot-routes.ts), bound to the
//     node and the command; one live per command: a new fetch deletes the
//     unused one before it (so the table cannot fill up either), so asking again exhausts nothing, and only one
//     install registration per command succeeds (registrar.ts).
// Expired ones are deleted by `purgeExpired`, which the manager runs periodically.
import type { FleetStore } from '@metalfleet/store';
import type { BootstrapTokens } from './bootstrap-tokens.ts';

export interface BootTokenLimits {
  discoveryTtlSeconds: number;
  discoveryPerMac: number;
  discoveryMax: number;
  installTtlSeconds: number;
}

export type BootTokenGrant = { ok: true; token: string } | { ok: false; reason: string };

export function createBootTokens(deps: { tokens: BootstrapTokens; store: FleetStore; now: () => Date; limits: BootTokenLimits }) {
  const { limits } = deps;
  return {
    async discovery(mac: string): Promise<BootTokenGrant> {
      const now = deps.now();
      const forMac = await deps.store.countLiveBootTokens({ purpose: 'discovery', now, mac });
      if (forMac >= limits.discoveryPerMac) return { ok: false, reason: `MAC ${mac} already has ${forMac} discovery tokens (limit ${limits.discoveryPerMac} per ${limits.discoveryTtlSeconds} s)` };
      const all = await deps.store.countLiveBootTokens({ purpose: 'discovery', now });
      if (all >= limits.discoveryMax) return { ok: false, reason: `${all} discovery tokens handed out in the last ${limits.discoveryTtlSeconds} s (limit ${limits.discoveryMax})` };
      const { token } = await deps.tokens.create({ description: `discovery boot of ${mac}`, ttlSeconds: limits.discoveryTtlSeconds, maxUses: 1, purpose: 'discovery', mac });
      return { ok: true, token };
    },

    async install(nodeId: string, commandId: string): Promise<BootTokenGrant> {
      await deps.store.dropUnusedInstallTokens(commandId);
      const { token } = await deps.tokens.create({
        description: `reimage boot of ${nodeId}`, ttlSeconds: limits.installTtlSeconds, maxUses: 1, purpose: 'install', nodeId, commandId,
      });
      return { ok: true, token };
    },

    purgeExpired: () => deps.store.purgeBootTokens(deps.now()),
  };
}

export type BootTokens = ReturnType<typeof createBootTokens>;
