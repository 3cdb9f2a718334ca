// The few calls the dialect-neutral SQL code needs. Statements use `?`
// placeholders; the PostgreSQL executor numbers them ($1, $2, …).
export interface SqlExecutor {
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs the statements in one transaction: all of them, or (on an error, which it throws) none. */
  atomically(statements: ReadonlyArray<{ sql: string; params: readonly unknown[] }>): Promise<void>;
  /** The driver's unique-key violation, so callers can answer `conflict`. */
  isUniqueViolation(error: unknown): boolean;
}

/** `?` → `$n`, for PostgreSQL (the SQL here never holds a literal question mark). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
}
