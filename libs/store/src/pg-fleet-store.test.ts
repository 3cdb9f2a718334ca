// The repository contract on the real PostgreSQL at 127.0.0.1:5432 (database
// `test`), each run in schemas of its own that are dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { describeAlertStore } from './alert-store.contract.ts';
import { describeFleetStore, type StoreFactory } from './fleet-store.contract.ts';
import { describeIdentityStore } from './identity-store.contract.ts';
import { describeLeaseStore } from './lease-store.contract.ts';
import { describeWorkStore } from './work-store.contract.ts';
import { openPgFleetStore } from './pg-fleet-store.ts';

const connectionString = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');
const schemas = new Set<string>();

afterAll(async () => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const factory: StoreFactory = {
  open: async (key) => {
    const schema = `mf_test_${run}_${key}`;
    schemas.add(schema);
    return openPgFleetStore({ connectionString, schema });
  },
};

describeFleetStore('PostgreSQL', factory);
describeIdentityStore('PostgreSQL', factory);
describeAlertStore('PostgreSQL', factory);
describeWorkStore('PostgreSQL', factory);
describeLeaseStore('PostgreSQL', factory);
