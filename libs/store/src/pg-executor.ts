// SqlExecutor on a `pg` pool: `?` placeholders numbered for PostgreSQL.
// Every call goes through `health`, so a lost connection is `unavailable`, not a crash or a 500.
import type pg from 'pg';
import { numberPlaceholders, type SqlExecutor } from './sql-executor.ts';
import { isConnectionError, type StoreHealth } from './store-health.ts';

const uniqueViolation = '23505';

/**
 * A client checked out of `pool` for `work`. While checked out, the pool no longer listens for the
 * client's 'error' (a server restart would be an unhandled error event); this does, and a client whose
 * connection broke is dropped instead of going back to the pool.
 */
export async function withPgClient<T>(pool: pg.Pool, health: StoreHealth, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: unknown = null;
  const onError = (error: unknown) => {
    broken = error;
    health.noteError(error);
  };
  client.on('error', onError);
  try {
    return await work(client);
  } catch (error) {
    if (isConnectionError(error)) broken = error;
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken === null ? undefined : broken instanceof Error ? broken : new Error(String(broken)));
  }
}

/** Runs `work` in one transaction on `client`; a failed ROLLBACK never hides the error that caused it. */
export async function pgTransaction<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export function pgExecutor(pool: pg.Pool, health: StoreHealth): SqlExecutor {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      return health.watch(async () => (await pool.query(numberPlaceholders(sql), [...params])).rows as T[]);
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return health.watch(async () => (await pool.query(numberPlaceholders(sql), [...params])).rowCount ?? 0);
    },
    async atomically(statements) {
      await health.watch(() => withPgClient(pool, health, (client) => pgTransaction(client, async () => {
        for (const s of statements) await client.query(numberPlaceholders(s.sql), [...s.params]);
      })));
    },
    isUniqueViolation: (error) => (error as { code?: string } | null)?.code === uniqueViolation,
  };
}
