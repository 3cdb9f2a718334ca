// SqlExecutor on a `pg` pool: `?` placeholders numbered for PostgreSQL.
import type pg from 'pg';
import { numberPlaceholders, type SqlExecutor } from './sql-executor.ts';

const uniqueViolation = '23505';

export function pgExecutor(pool: pg.Pool): SqlExecutor {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      return (await pool.query(numberPlaceholders(sql), [...params])).rows as T[];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return (await pool.query(numberPlaceholders(sql), [...params])).rowCount ?? 0;
    },
    async atomically(statements) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const s of statements) await client.query(numberPlaceholders(s.sql), [...s.params]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    isUniqueViolation: (error) => (error as { code?: string } | null)?.code === uniqueViolation,
  };
}
