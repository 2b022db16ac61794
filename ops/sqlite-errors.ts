import { MedchainError } from '../errors/medchain-error.js';

/** Stable codes for storage failures an operator (or a transport) can act on. */
export const StoreCode = {
  DiskFull: 'STORE_DISK_FULL',
  Io: 'STORE_IO_ERROR',
  Busy: 'STORE_BUSY',
  Corrupt: 'STORE_CORRUPT',
  CantOpen: 'STORE_CANT_OPEN',
  ReadOnly: 'STORE_READ_ONLY',
  Constraint: 'STORE_CONSTRAINT',
  Closed: 'STORE_CLOSED',
  Nested: 'STORE_NESTED_TRANSACTION',
  Sql: 'STORE_SQL_ERROR',
  /** Another process runs a service on this database (ops/db-lock.ts). */
  InUse: 'STORE_IN_USE',
} as const;
export type StoreCode = (typeof StoreCode)[keyof typeof StoreCode];

export class StoreError extends MedchainError {
  declare readonly code: StoreCode;
  /** SQLite's own code (SQLITE_FULL, ...) when SQLite reported one. */
  readonly sqlite: string | undefined;

  constructor(code: StoreCode, message: string, options?: { cause?: unknown; sqlite?: string }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.sqlite = options?.sqlite;
  }
}

/**
 * Maps an error from the sqlite3 binding to a StoreError. `path` names the database
 * file and `what` the operation, so the message can say where to look.
 * Primary result codes: https://www.sqlite.org/rescode.html
 */
export function fromSqlite(err: unknown, path: string, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const sqlite = (err as { code?: unknown } | undefined)?.code;
  const code = typeof sqlite === 'string' ? sqlite : undefined;
  const detail = (err as Error | undefined)?.message ?? String(err);
  const opts = { cause: err, ...(code === undefined ? {} : { sqlite: code }) };
  const at = `${what} (${path})`;
  switch (code) {
    case 'SQLITE_FULL':
      return new StoreError(
        StoreCode.DiskFull,
        `${at}: the disk or the database's size limit is full. Free space on the volume holding ${path}; nothing was written by this operation.`,
        opts,
      );
    case 'SQLITE_IOERR':
      return new StoreError(
        StoreCode.Io,
        `${at}: the operating system reported an I/O error (${detail}). Check the disk and its kernel log before restarting.`,
        opts,
      );
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new StoreError(
        StoreCode.Busy,
        `${at}: another process holds the database lock past the busy timeout. Make sure only one service uses ${path}, or retry.`,
        opts,
      );
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return new StoreError(
        StoreCode.Corrupt,
        `${at}: the file is damaged or is not a SQLite database (${detail}). Stop the service, keep a copy of ${path}, and restore it from a backup.`,
        opts,
      );
    case 'SQLITE_CANTOPEN':
      return new StoreError(
        StoreCode.CantOpen,
        `${at}: cannot open the database file. Check that the directory exists and is writable by this user.`,
        opts,
      );
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return new StoreError(
        StoreCode.ReadOnly,
        `${at}: the database is read-only (${detail}). Check the permissions of ${path} and its -wal and -shm files.`,
        opts,
      );
    case 'SQLITE_CONSTRAINT':
      return new StoreError(StoreCode.Constraint, `${at}: ${detail}`, opts);
    default:
      return new StoreError(StoreCode.Sql, `${at}: ${detail}`, opts);
  }
}
