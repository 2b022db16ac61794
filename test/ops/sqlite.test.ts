import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import t from 'tap';
import { SqliteDb, StoreCode, StoreError } from '../../ops/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'medchain-sqlite-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `db${++n}.sqlite`);

/** A second, independent connection: the outside view of what is on disk. */
function outsideGet<T>(path: string, sql: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.get(sql, (err2: Error | null, row: T) => {
        db.close();
        if (err2) reject(err2);
        else resolve(row);
      });
    });
  });
}

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((r) => {
    release = r;
  });
  return { promise, release };
}

t.test('WAL, synchronous and foreign keys are set on open', async (t) => {
  const path = fresh();
  const db = await SqliteDb.open(path);
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE t (x INTEGER)');
  await db.run('INSERT INTO t VALUES (?)', [1]);
  t.same(await db.get('PRAGMA synchronous'), { synchronous: 2 }, 'FULL by default');
  t.same(await db.get('PRAGMA foreign_keys'), { foreign_keys: 1 });
  const mode = await outsideGet<{ journal_mode: string }>(path, 'PRAGMA journal_mode');
  t.equal(mode.journal_mode, 'wal', 'another connection sees the file in WAL mode');
  t.ok(existsSync(`${path}-wal`), 'the -wal file exists');

  const normal = await SqliteDb.open(fresh(), { synchronous: 'NORMAL' });
  t.same(await normal.get('PRAGMA synchronous'), { synchronous: 1 });
  await normal.close();
  await t.rejects(SqliteDb.open(fresh(), { synchronous: 'SOMETIMES' as 'FULL' }), {
    code: StoreCode.Sql,
  });
});

t.test('run, get and all round-trip values, blobs included', async (t) => {
  const db = await SqliteDb.open(fresh(), { statementCache: 2 });
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT, body BLOB)');
  const res = await db.run('INSERT INTO r (name, body) VALUES (?, ?)', [
    'a',
    new Uint8Array([1, 2, 3]),
  ]);
  t.same(res, { changes: 1, lastId: 1 });
  await db.run('INSERT INTO r (name, body) VALUES ($name, $body)', {
    $name: 'b',
    $body: Buffer.from([9]),
  });
  const row = await db.get<{ name: string; body: Buffer }>(
    'SELECT name, body FROM r WHERE id = ?',
    [1],
  );
  t.equal(row?.name, 'a');
  t.same([...(row?.body ?? [])], [1, 2, 3]);
  t.equal(await db.get('SELECT * FROM r WHERE id = ?', [99]), undefined);
  // More distinct statements than the cache holds: evicted ones are finalized and re-prepared.
  for (let i = 0; i < 3; i++) {
    t.same(await db.all('SELECT name FROM r ORDER BY id'), [{ name: 'a' }, { name: 'b' }]);
    t.same(await db.get('SELECT count(*) AS c FROM r'), { c: 2 });
    t.same(await db.get('SELECT max(id) AS m FROM r'), { m: 2 });
  }
  await t.rejects(db.get('SELECT * FROM nope'), { code: StoreCode.Sql });
});

t.test('transaction commits, and rolls back when the body throws', async (t) => {
  const path = fresh();
  const db = await SqliteDb.open(path);
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE c (k TEXT PRIMARY KEY, v INTEGER)');
  const v = await db.transaction(async (tx) => {
    await tx.run('INSERT INTO c VALUES (?, ?)', ['a', 1]);
    await tx.run('INSERT INTO c VALUES (?, ?)', ['b', 2]);
    return 'done';
  });
  t.equal(v, 'done');
  await t.rejects(
    db.transaction(async (tx) => {
      await tx.run('INSERT INTO c VALUES (?, ?)', ['c', 3]);
      throw new Error('boom');
    }),
    /boom/,
  );
  t.same(await db.all('SELECT k FROM c ORDER BY k'), [{ k: 'a' }, { k: 'b' }], 'c rolled back');
  t.same(await outsideGet(path, 'SELECT count(*) AS n FROM c'), { n: 2 }, 'on disk too');
  await t.rejects(
    db.transaction(async (tx) => {
      await tx.run('INSERT INTO c VALUES (?, ?)', ['d', 4]);
      await tx.run('INSERT INTO c VALUES (?, ?)', ['a', 5]);
    }),
    { code: StoreCode.Constraint },
  );
  t.same(await db.get('SELECT count(*) AS n FROM c'), { n: 2 }, 'd rolled back with the failure');
  await t.rejects(
    db.transaction(() => db.transaction(async () => 1)),
    { code: StoreCode.Nested },
  );
  t.same(await db.get('SELECT 1 AS one'), { one: 1 }, 'usable after a refused nesting');
});

t.test('transactions and plain queries on one connection never interleave', async (t) => {
  const db = await SqliteDb.open(fresh());
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE k (v INTEGER); INSERT INTO k VALUES (0)');
  const bump = () =>
    db.transaction(async (tx) => {
      const row = await tx.get<{ v: number }>('SELECT v FROM k');
      await new Promise((r) => setImmediate(r));
      await tx.run('UPDATE k SET v = ?', [(row?.v ?? 0) + 1]);
    });
  await Promise.all([bump(), bump(), bump()]);
  t.same(await db.get('SELECT v FROM k'), { v: 3 }, 'no lost update');

  const gate = deferred();
  const txDone = db
    .transaction(async (tx) => {
      await tx.run('UPDATE k SET v = 100');
      await gate.promise;
      throw new Error('abort');
    })
    .catch(() => 'rolled back');
  const outside = db.get<{ v: number }>('SELECT v FROM k');
  gate.release();
  t.equal(await txDone, 'rolled back');
  t.same(await outside, { v: 3 }, 'the outside read waited and never saw the aborted write');
});

t.test('SQLite failures become typed errors with stable codes', async (t) => {
  const db = await SqliteDb.open(fresh());
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE big (b BLOB); CREATE TABLE p (id INTEGER PRIMARY KEY)');
  await db.exec('CREATE TABLE ch (p INTEGER REFERENCES p(id))');
  await t.rejects(db.run('INSERT INTO ch VALUES (?)', [7]), { code: StoreCode.Constraint });

  // A database at its size limit answers SQLITE_FULL, exactly like a full disk.
  const pages = await db.get<{ page_count: number }>('PRAGMA page_count');
  await db.exec(`PRAGMA max_page_count = ${(pages?.page_count ?? 0) + 2}`);
  const err = await db
    .transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.run('INSERT INTO big VALUES (?)', [Buffer.alloc(8192)]);
    })
    .catch((e: unknown) => e);
  t.ok(err instanceof StoreError);
  t.match(err, { code: StoreCode.DiskFull, sqlite: 'SQLITE_FULL' });
  t.match((err as Error).message, /Free space/);
  t.same(await db.get('SELECT count(*) AS n FROM big'), { n: 0 }, 'nothing half-written');
  await db.exec('PRAGMA max_page_count = 1073741823');
  await db.run('INSERT INTO big VALUES (?)', [Buffer.alloc(16)]);

  const garbage = fresh();
  writeFileSync(garbage, Buffer.alloc(8192, 'not a database. '));
  await t.rejects(SqliteDb.open(garbage), { code: StoreCode.Corrupt });

  await t.rejects(SqliteDb.open(join(dir, 'no', 'such', 'dir', 'x.db')), {
    code: StoreCode.CantOpen,
  });
});

t.test('a second connection waiting past busy_timeout gets STORE_BUSY', async (t) => {
  const path = fresh();
  const a = await SqliteDb.open(path);
  const b = await SqliteDb.open(path, { busyTimeoutMs: 50 });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await a.exec('CREATE TABLE q (v INTEGER)');
  const gate = deferred();
  const holding = deferred();
  const held = a.transaction(async (tx) => {
    await tx.run('INSERT INTO q VALUES (1)');
    holding.release();
    await gate.promise;
  });
  await holding.promise;
  await t.rejects(
    b.transaction(async (tx) => tx.run('INSERT INTO q VALUES (2)')),
    { code: StoreCode.Busy },
  );
  gate.release();
  await held;
  await b.run('INSERT INTO q VALUES (3)');
  t.same(await b.all('SELECT v FROM q ORDER BY v'), [{ v: 1 }, { v: 3 }]);
});

t.test('close waits for queued work; use after close is STORE_CLOSED', async (t) => {
  const db = await SqliteDb.open(fresh());
  await db.exec('CREATE TABLE z (v INTEGER)');
  const pending = db.run('INSERT INTO z VALUES (1)');
  const closing = db.close();
  t.same(await pending, { changes: 1, lastId: 1 });
  await closing;
  await t.rejects(db.get('SELECT 1'), { code: StoreCode.Closed });
  await t.rejects(
    db.transaction(async () => 1),
    { code: StoreCode.Closed },
  );
  await db.close();
});
