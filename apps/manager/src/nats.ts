// The manager as the operator of a NATS cluster (--nats-url): its accounts are
// made on first start in <dataDir>/pki (the replicas share that directory, as
// the CA); what each broker node must include is written to
// <dataDir>/pki/nats-accounts.conf with the revocations as they stand (a
// broker started from a copy taken later must not let a revoked node in), and
// revocations are pushed to the cluster.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { connectNatsSystem, loadNatsAccounts, type NatsAccounts, type Revoked } from '@metalfleet/manager-transport';
import type { ManagerConfig } from './config.ts';

export const natsAccountsFile = (dataDir: string) => join(dataDir, 'pki', 'nats-accounts.conf');

export interface NatsOperator {
  accounts: NatsAccounts;
  /**
   * Writes the brokers' file with these revocations and pushes the account to the cluster (connected on first use,
   * kept). A cluster that cannot be reached is logged, not thrown: they are pushed again every ten minutes
   * (node-certificates.ts), and at every start.
   */
  publishRevocations: (revoked: readonly Revoked[]) => Promise<void>;
  close: () => Promise<void>;
}

export async function openNatsOperator(config: ManagerConfig, deps: { dataDir: string; caPem: string; logger: Logger }): Promise<NatsOperator | null> {
  if (config.natsUrl.length === 0) return null;
  const accounts = loadNatsAccounts(join(deps.dataDir, 'pki'));
  const file = natsAccountsFile(deps.dataDir);
  deps.logger.info({ file }, 'NATS cluster (--nats-url): each broker node includes this file (deploy/ha/nats); it is written at start and on each revocation');
  let system: ReturnType<typeof connectNatsSystem> | null = null;
  return {
    accounts,
    async publishRevocations(revoked) {
      writeFileSync(`${file}.new`, await accounts.brokerConfig(revoked), { mode: 0o644 });
      renameSync(`${file}.new`, file);
      try {
        system ??= connectNatsSystem(config.natsUrl, await accounts.systemCredentials(), deps.caPem);
        await (await system).updateAccount(await accounts.accountJwt(revoked));
        deps.logger.info({ revokedTokens: revoked.length }, 'NATS cluster: account revocations updated');
      } catch (error) {
        // Not connected: connect again next time. Connected: the connection reconnects by itself.
        if (system && !(await system.then(() => true, () => false))) system = null;
        deps.logger.error({ err: error }, 'could not push the node revocations to the NATS cluster; trying again in ten minutes');
      }
    },
    async close() {
      if (system) await system.then((connection) => connection.close(), () => undefined);
    },
  };
}
