// Why a manager will not start on its data directory or database: one line
// for the operator that says what to do, and a stable code for callers.
export type DataDirErrorCode =
  | 'data-dir-locked'
  | 'data-dir-missing'
  | 'database-missing'
  | 'database-empty'
  | 'database-corrupt'
  | 'init-over-existing'
  | 'init-incomplete'
  | 'ca-missing';

export class DataDirError extends Error {
  readonly code: DataDirErrorCode;

  constructor(code: DataDirErrorCode, message: string) {
    super(message);
    this.name = 'DataDirError';
    this.code = code;
  }
}
