/**
 * Assertions and fixtures of the failure tests (failures-*.test.ts): a port another
 * process listens on, a database another connection holds locked, and what a failed
 * start must look like — status 2, exactly one `medchain: CODE: …` line, no stack
 * trace, and no process of its group left.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import type { Test } from 'tap';
import { exitWithin, groupAlive, type Proc, until } from './services.js';

type Teardown = { teardown(fn: () => unknown): void };

export async function takenPort(t: Teardown): Promise<number> {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  return (taken.address() as { port: number }).port;
}

/** A database file another connection holds an exclusive lock on. */
export async function lockedDb(t: Teardown, dir: string): Promise<string> {
  const file = join(dir, 'locked.db');
  const holder = new sqlite3.Database(file);
  await new Promise<void>((resolve, reject) =>
    holder.exec('CREATE TABLE held (x); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1)', (e) =>
      e ? reject(e) : resolve(),
    ),
  );
  t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
  return file;
}

export async function failsWith(t: Test, p: Proc, code: string, mentions?: RegExp): Promise<void> {
  const { code: status, signal } = await exitWithin(p);
  t.equal(status, 2, 'exit status 2');
  t.equal(signal, null, 'exited by itself');
  const failures = p.lines.filter((l) => l.startsWith('medchain:'));
  t.equal(failures.length, 1, 'exactly one failure line');
  const line = failures[0] ?? '';
  t.match(line, new RegExp(`^medchain: ${code}: \\S`), line);
  if (mentions) t.match(line, mentions);
  t.equal(p.lines.at(-1), line, 'the failure line is the last thing printed');
  t.same(
    p.lines.filter((l) => !l.startsWith('{') && !l.startsWith('medchain:')),
    [],
    'no stack trace or other stray output',
  );
  await until('the whole process group has ended', () => !groupAlive(p.child.pid));
}
