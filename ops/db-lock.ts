/**
 * One service process per database. A gateway or notary takes this lock before it
 * opens anything else (token, database, listeners) and holds it until it exits; a
 * second process on the same database refuses to start with STORE_IN_USE (exit 2).
 *
 * The lock is an exclusive SQLite transaction on a sidecar file `{db}.lock`: SQLite
 * locks with POSIX advisory locks (fcntl), which the kernel drops when the process dies
 * (kill -9 included), so no stale lock survives a crash, and a second connection in the
 * same process is refused just the same. The database itself stays in WAL mode with
 * normal locking, so the CLI's own commands (`device add`, `prove`, `export`) keep
 * working beside the running service. No new dependency: the sqlite3 binding is already
 * here (a lock-file library would be mkdir/mtime based, which needs stale-lock guessing
 * after a crash).
 */
import sqlite3 from 'sqlite3';
import { StoreCode, StoreError } from './sqlite-errors.js';

export class DbLock {
  readonly path: string;
  #db: sqlite3.Database | undefined;

  private constructor(path: string, db: sqlite3.Database) {
    this.path = path;
    this.#db = db;
  }

  /** Takes the lock for `dbPath`, or throws STORE_IN_USE at once when another holds it. */
  static async acquire(dbPath: string, what: string): Promise<DbLock> {
    const path = `${dbPath}.lock`;
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) =>
        err
          ? reject(
              new StoreError(
                StoreCode.CantOpen,
                `cannot create the lock file ${path}: ${err.message}`,
                {
                  cause: err,
                },
              ),
            )
          : resolve(d),
      );
    });
    db.configure('busyTimeout', 0);
    const exec = (sql: string) =>
      new Promise<void>((resolve, reject) => db.exec(sql, (e) => (e ? reject(e) : resolve())));
    try {
      await exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;');
    } catch (err) {
      await new Promise<void>((r) => db.close(() => r()));
      const busy = /SQLITE_BUSY|SQLITE_LOCKED/.test(String((err as { code?: string }).code));
      throw new StoreError(
        busy ? StoreCode.InUse : StoreCode.Io,
        busy
          ? `${dbPath} is in use by another ${what} process (lock ${path}); stop it first, or give this one its own database.`
          : `cannot lock ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new DbLock(path, db);
  }

  /** Releases the lock (the file stays; it holds no data). Idempotent. */
  async release(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (!db) return;
    await new Promise<void>((r) => db.close(() => r()));
  }

  close(): Promise<void> {
    return this.release();
  }
}
