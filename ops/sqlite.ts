import { AsyncLocalStorage } from 'node:async_hooks';
import sqlite3 from 'sqlite3';
import { fromSqlite, StoreCode, StoreError } from './sqlite-errors.js';

export { fromSqlite, StoreCode, StoreError } from './sqlite-errors.js';

export type SqlValue = string | number | Uint8Array | null;
/** Positional (`?`) values, or named ones keyed with their prefix (`{ $id: 1 }`). */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;
export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteOptions {
  /** PRAGMA synchronous. FULL (default) fsyncs the WAL at every commit. */
  synchronous?: Synchronous | undefined;
  /** How long to wait for another connection's lock before STORE_BUSY (default 5000 ms). */
  busyTimeoutMs?: number | undefined;
  /** Prepared statements kept open on this connection (default 64). */
  statementCache?: number | undefined;
}

export interface RunResult {
  changes: number;
  lastId: number;
}

/** What a transaction body may do: the same queries as the database, inside the transaction. */
export interface Queryable {
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
}

const SYNCHRONOUS = new Set<string>(['OFF', 'NORMAL', 'FULL', 'EXTRA']);

function bindable(params: SqlParams | undefined): unknown[] | Record<string, unknown> {
  const conv = (v: SqlValue) =>
    v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v;
  if (params === undefined) return [];
  if (Array.isArray(params)) return params.map(conv);
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, conv(v as SqlValue)]));
}

/**
 * One SQLite connection in WAL mode with foreign keys on. Every operation on it is
 * serialised: a transaction holds the connection from BEGIN IMMEDIATE to COMMIT, so
 * queries from elsewhere in the process never land inside someone else's transaction.
 */
export class SqliteDb implements Queryable {
  readonly path: string;
  readonly #db: sqlite3.Database;
  readonly #cache = new Map<string, sqlite3.Statement>();
  readonly #cacheSize: number;
  readonly #tx = new AsyncLocalStorage<{ active: boolean }>();
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(db: sqlite3.Database, path: string, cacheSize: number) {
    this.#db = db;
    this.path = path;
    this.#cacheSize = cacheSize;
  }

  static async open(path: string, opts: SqliteOptions = {}): Promise<SqliteDb> {
    const sync = opts.synchronous ?? 'FULL';
    if (!SYNCHRONOUS.has(sync)) {
      throw new StoreError(StoreCode.Sql, `synchronous: one of OFF, NORMAL, FULL, EXTRA`);
    }
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const mode = sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE | sqlite3.OPEN_FULLMUTEX;
      const db = new sqlite3.Database(path, mode, (err) =>
        err ? reject(fromSqlite(err, path, 'opening the database')) : resolve(db),
      );
    });
    raw.configure('busyTimeout', opts.busyTimeoutMs ?? 5000);
    const db = new SqliteDb(raw, path, opts.statementCache ?? 64);
    try {
      const row = await db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
      if (row?.journal_mode !== 'wal') {
        throw new StoreError(
          StoreCode.Io,
          `${path}: SQLite refused WAL mode (got '${row?.journal_mode}'). Put the database on a local filesystem that supports shared memory.`,
        );
      }
      await db.exec(`PRAGMA synchronous = ${sync}; PRAGMA foreign_keys = ON;`);
    } catch (err) {
      await db.close();
      throw fromSqlite(err, path, 'configuring the database');
    }
    return db;
  }

  #check(): void {
    if (this.#closed) {
      throw new StoreError(StoreCode.Closed, `database ${this.path} is closed; open it again.`);
    }
  }

  /** Runs fn when every earlier operation and transaction on this connection has finished. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #op<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#tx.getStore()?.active ? fn() : this.#exclusive(fn);
  }

  #statement(sql: string): Promise<sqlite3.Statement> {
    const hit = this.#cache.get(sql);
    if (hit) {
      this.#cache.delete(sql);
      this.#cache.set(sql, hit);
      return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const stmt = this.#db.prepare(sql, (err) => {
        if (err) return reject(fromSqlite(err, this.path, `preparing '${sql}'`));
        this.#cache.set(sql, stmt);
        if (this.#cache.size > this.#cacheSize) {
          const [oldest, old] = this.#cache.entries().next().value ?? [];
          if (oldest !== undefined && old) {
            this.#cache.delete(oldest);
            old.finalize();
          }
        }
        resolve(stmt);
      });
    });
  }

  run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#op(async () => {
      const stmt = await this.#statement(sql);
      return new Promise<RunResult>((resolve, reject) => {
        stmt.run(bindable(params), function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastId: this.lastID });
        });
      }).catch((err: unknown) => {
        throw fromSqlite(err, this.path, 'writing');
      });
    });
  }

  get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#op(async () => {
      const stmt = await this.#statement(sql);
      return new Promise<T | undefined>((resolve, reject) => {
        stmt.get(bindable(params), (err: Error | null, row?: T) => {
          // reset ends the statement's read so it does not pin an old WAL snapshot.
          stmt.reset(() => (err ? reject(fromSqlite(err, this.path, 'reading')) : resolve(row)));
        });
      });
    });
  }

  all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#op(async () => {
      const stmt = await this.#statement(sql);
      return new Promise<T[]>((resolve, reject) => {
        stmt.all(bindable(params), (err: Error | null, rows: T[]) =>
          err ? reject(fromSqlite(err, this.path, 'reading')) : resolve(rows),
        );
      });
    });
  }

  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): Promise<void> {
    return this.#op(() => this.#exec(sql));
  }

  #exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#db.exec(sql, (err) =>
        err ? reject(fromSqlite(err, this.path, 'executing')) : resolve(),
      );
    });
  }

  /**
   * BEGIN IMMEDIATE (takes the write lock at once, so it fails early with STORE_BUSY
   * rather than at the first write), run fn, COMMIT; ROLLBACK if fn or COMMIT throws.
   * Transactions on one connection run one after another; nesting is refused.
   */
  transaction<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      this.#check();
      if (this.#tx.getStore()?.active) {
        throw new StoreError(
          StoreCode.Nested,
          'a transaction was started inside another one on the same connection; pass the outer transaction on instead.',
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#exclusive(async () => {
      const ctx = { active: true };
      await this.#exec('BEGIN IMMEDIATE');
      try {
        const result = await this.#tx.run(ctx, () => fn(this));
        await this.#exec('COMMIT');
        return result;
      } catch (err) {
        try {
          await this.#exec('ROLLBACK');
        } catch {
          // SQLite already rolled back (it does so itself on SQLITE_FULL and IOERR).
        }
        throw err;
      } finally {
        ctx.active = false;
      }
    });
  }

  /** Waits for queued work, finalizes cached statements and closes. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return this.#exclusive(async () => {
      for (const stmt of this.#cache.values()) {
        await new Promise<void>((resolve) => stmt.finalize(() => resolve()));
      }
      this.#cache.clear();
      await new Promise<void>((resolve, reject) =>
        this.#db.close((err) => (err ? reject(fromSqlite(err, this.path, 'closing')) : resolve())),
      );
    });
  }
}
