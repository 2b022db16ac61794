/**
 * `medchain replica` as operators run it: follows a notary over HTTP and MQTT, serves
 * /readyz and /metrics, stops on SIGTERM (exit 0), resumes, exports a copy that
 * `medchain verify` accepts, and exits 3 with evidence on a live fork.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createTestPki } from '../helpers/pki.js';
import { env, MAIN, medchain } from './cli-helpers.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';
import { forgeCheckpoint } from './replica-helpers.js';

// Eight CLI processes under the TypeScript loader: over the default 120 s on a busy machine.
t.setTimeout(300_000);
const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const reader = await pki.participant('reader', 'replica-1');
const notarySigner = await pki.signer(me);

/** Spawns `medchain replica …`; `line(msg)` resolves with the first log line of that msg. */
function replicaCli(t: { teardown(fn: () => unknown): void }, args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, MAIN, 'replica', ...args],
    {
      env: env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let err = '';
  const waiters: { msg: string; resolve: (j: Record<string, unknown>) => void }[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of err.split('\n')) {
      if (!l.startsWith('{')) continue;
      const j = JSON.parse(l) as Record<string, unknown>;
      for (const w of waiters.splice(0)) {
        if (j.msg === w.msg) w.resolve(j);
        else waiters.push(w);
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const line = (msg: string, ms = 30_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${msg}' log line:\n${err}`)), ms);
      waiters.push({
        msg,
        resolve: (j) => {
          clearTimeout(timer);
          resolve(j);
        },
      });
    });
  return { child, line, exit, stderr: () => err };
}

t.test('follow, stop, export and verify; resume; exit 3 on a live fork', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1], {
    checkpoint: { everyEntries: 1000, everyMs: 600_000 },
  });
  const m = new BlockMaker('gw-1', await pki.signer(gw1));
  for (let i = 0; i < 4; i++) await notary.registrar.submit('gw-1', (await m.next()).bytes);
  await notary.checkpointer.checkpoint();
  const dir = tempDir(t);
  const db = join(dir, 'replica.db');
  const args = [
    '--notary',
    `http://127.0.0.1:${notary.http!.port}`,
    '--db',
    db,
    '--root',
    pki.rootPath,
    '--mqtt',
    `mqtts://127.0.0.1:${notary.broker.port}`,
    '--tls-key',
    reader.tls.keyPath,
    '--tls-cert',
    reader.tls.path,
    '--http',
    '0',
  ];
  const run1 = replicaCli(t, args);
  const port = (await run1.line('replica HTTP listening')).port as number;
  t.equal((await run1.line('copy verified')).size, 4);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), {
    service: 'replica',
    status: 'ok',
    ok: true,
    reasons: [],
    detail: { state: 'following', size: 4 },
  });
  t.match(
    await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    /medchain_replica_entries 4/,
  );
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  t.match(await (await fetch(`http://127.0.0.1:${port}/status`)).json(), {
    state: 'following',
    notaryId: 'notary-1',
    size: 4,
    refusal: null,
  });
  run1.child.kill('SIGTERM');
  t.equal(await run1.exit, 0, 'SIGTERM: exit 0');

  const out = join(dir, 'copy.cbor');
  const ex = medchain(['replica', 'export', '--db', db, '--out', out]);
  t.equal(ex.status, 0, ex.stderr);
  const v = medchain(['verify', out, '--root', pki.rootPath, '--json']);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /"ok":true,"notaryId":"notary-1","size":4/);

  const run2 = replicaCli(t, args.slice(0, -2));
  t.equal((await run2.line('copy verified')).size, 4, 'resumed from the database');
  notary.broker.publishCheckpoint(await forgeCheckpoint(notarySigner, 'notary-1', 4, 9));
  t.equal(await run2.exit, 3, 'a fork: exit 3');
  t.match(run2.stderr(), /REPLICA_FORK: same-size at size 4; evidence .*fork-notary-1-1\.cbor/);
  t.ok(existsSync(join(dir, 'fork-notary-1-1.cbor')), 'evidence file next to the database');
  const forks = medchain(['replica', 'forks', '--db', db]);
  t.equal(forks.status, 3);
  t.match(forks.stdout, /"reason":"same-size","size":4/);
  const check = medchain([
    'replica',
    'verify-fork',
    join(dir, 'fork-notary-1-1.cbor'),
    '--root',
    pki.rootPath,
  ]);
  t.equal(check.status, 0, check.stderr);
  t.match(check.stdout, /"ok":true,"proven":true,"notaryId":"notary-1","reason":"same-size"/);
  const again = medchain(['replica', ...args.slice(0, 4)]);
  t.equal(again.status, 3, 'a forked copy does not follow again');
});

t.test('usage errors exit 2 with a stable code', async (t) => {
  const r = medchain(['replica']);
  t.equal(r.status, 2);
  t.match(r.stderr, /REPLICA_CONFIG: give --notary/);
  const dir = tempDir(t);
  const missing = medchain(['replica', 'forks', '--db', join(dir, 'absent.db')]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /REPLICA_CONFIG: .*absent\.db: no such replica database/);
  t.notOk(existsSync(join(dir, 'absent.db')), 'and none is created');
});
