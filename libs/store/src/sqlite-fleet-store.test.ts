import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeAlertStore } from './alert-store.contract.ts';
import { describeFleetRecords } from './fleet-records.contract.ts';
import { describeFleetStore, type StoreFactory } from './fleet-store.contract.ts';
import { describeIdentityStore } from './identity-store.contract.ts';
import { describeLeaseStore } from './lease-store.contract.ts';
import { describeEventJournalStore } from './event-journal-store.contract.ts';
import { describeNodeCertificateStore } from './node-certificate-store.contract.ts';
import { describePresenceStore } from './presence-store.contract.ts';
import { describeWorkStore } from './work-store.contract.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const factory: StoreFactory = {
  open: async (key) => openSqliteFleetStore({ path: join(dir, key, 'fleet.db') }),
};

describeFleetStore('SQLite (WAL file)', factory);
describeFleetRecords('SQLite (WAL file)', factory);
describeIdentityStore('SQLite (WAL file)', factory);
describeAlertStore('SQLite (WAL file)', factory);
describeWorkStore('SQLite (WAL file)', factory);
describeLeaseStore('SQLite (WAL file)', factory);
describeEventJournalStore('SQLite (WAL file)', factory);
describeNodeCertificateStore('SQLite (WAL file)', factory);
describePresenceStore('SQLite (WAL file)', factory);
