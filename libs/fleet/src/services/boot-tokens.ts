// Tokens the boot endpoint hands out, which anyone on the provisioning network
// can ask for: scoped, short-lived, single use and capped, so asking many times
// yields nothing useful and fills nothing up.
//   discovery: only for a MAC no node has, bound to it (the registration must
//     report it), at most `discoveryPerMac` live per MAC and `discoveryMax`
//     live overall (live: not expired, used or not), so at most `discoveryMax`
//     per lifetime: the rate limit.
//   install: for a node whose reimage is rebooting or installing (with a BMC:
//     only after the manager's own power cycle, boot-routes.ts), bound to the
//     node, the command and the address it was handed to; one per reboot point
//     (installTokenGrant in libs/domain): the first fetch gets it, a later one
//     is refused and never takes it away (another tenant asking with the
//     node's MAC would otherwise leave its installer without one), so the
//     table cannot fill up either. Only one install registration per command
//     succeeds, and only from that address (registrar.ts).
// Expired ones are deleted by `purgeExpired`, which the manager runs periodically.
import { installTokenGrant } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { BootstrapTokens } from './bootstrap-tokens.ts';
import { createKeyedQueue } from './keyed-queue.ts';

export interface BootTokenLimits {
  discoveryTtlSeconds: number;
  discoveryPerMac: number;
  discoveryMax: number;
  installTtlSeconds: number;
}

export type BootTokenGrant = { ok: true; token: string } | { ok: false; reason: string };

export function createBootTokens(deps: { tokens: BootstrapTokens; store: FleetStore; now: () => Date; limits: BootTokenLimits }) {
  const { limits } = deps;
  // One fetch of a command at a time: two fetches at the same instant must not both find no token and both get one.
  const oneAtATime = createKeyedQueue();
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

    /**
     * `peer`: the address asking (the registration must come from it); `rebootPointAt`: the manager's latest power
     * cycle of the node through its BMC (null without one). Refused: the token went to an earlier fetch.
     */
    install: (nodeId: string, commandId: string, peer: string, rebootPointAt: Date | null): Promise<BootTokenGrant> => oneAtATime(commandId, async () => {
      const issued = await deps.store.installTokens(commandId);
      const grant = installTokenGrant(issued, rebootPointAt);
      if (!grant.mint) return { ok: false, reason: grant.reason };
      // Those left from a boot the manager's later power cycle ended: nobody boots with them any more.
      if (issued.length > 0) await deps.store.dropUnusedInstallTokens(commandId);
      const { token } = await deps.tokens.create({
        description: `reimage boot of ${nodeId}`, ttlSeconds: limits.installTtlSeconds, maxUses: 1, purpose: 'install', nodeId, commandId, issuedTo: peer,
      });
      return { ok: true, token };
    }),

    purgeExpired: () => deps.store.purgeBootTokens(deps.now()),
  };
}

export type BootTokens = ReturnType<typeof createBootTokens>;
