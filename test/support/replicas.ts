// Manager replicas for tests: the machine's shared PostgreSQL (a schema per
// test, dropped after it), and a replica's data directory made from the
// first one's, as an operator hands each replica the same CA, sealing key and
// tokens (not its lock, nor its clock).
import { cpSync } from 'node:fs';
import pg from 'pg';

export const sharedPostgres = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: sharedPostgres });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

export function copyReplicaState(fromDir: string, toDir: string): void {
  cpSync(fromDir, toDir, { recursive: true, filter: (path) => !/(manager\.lock|lock\.key|clock\.json)$/.test(path) });
}
