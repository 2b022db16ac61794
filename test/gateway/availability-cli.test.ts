/**
 * The gateway process under faults, as an operator sees it: one process per database,
 * /readyz telling the truth (disk full, CONNECT storm, HSM stalled), each with a
 * reason, and recovery when the fault ends.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { cliKit } from './cli-kit.js';
import { rawConnack, readingBytes, until, within } from './helpers.js';

// Several gateway processes one after another: generous on a loaded machine.
t.setTimeout(900_000);
const kit = await cliKit(t);
const SECRET = 'a-secret-of-enough-length';
writeFileSync(join(kit.dir, 'secret'), `${SECRET}\n`);
const obs = 'med/v1/dev/ox-1/obs';

async function addDevice(db: string): Promise<void> {
  const r = await kit.medchain([
    'gateway',
    'device',
    'add',
    'ox-1',
    '--db',
    db,
    '--secret-file',
    'secret',
  ]);
  if (r.status !== 0) throw new Error(r.stderr);
}

const device = (port: number, extra: mqtt.IClientOptions = {}) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clientId: 'ox-1',
    username: 'ox-1',
    password: SECRET,
    clean: false,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    ...extra,
  });

t.test('one process per database: a second gateway on the same database exits 2', async (t) => {
  const db = join(kit.dir, 'locked.db');
  const g = await kit.start({ db });
  const twin = await kit.medchain(['gateway', '--config', kit.config({ db }, g.responder)]);
  t.equal(twin.status, 2);
  t.match(twin.stderr, /medchain: STORE_IN_USE: .*locked\.db is in use by another gateway process/);
  t.equal((await g.readyz()).status, 200, 'the first one runs on');
  t.equal(
    (await kit.medchain(['gateway', 'device', 'list', '--db', db])).status,
    0,
    'CLI beside it',
  );
  g.child.kill('SIGKILL');
  await within(30_000, 'exit', g.exited);
  // The kernel dropped the lock with the process: a new gateway starts at once.
  const g2 = await kit.start({ db });
  g2.child.kill('SIGTERM');
  t.equal((await within(60_000, 'exit', g2.exited)).code, 0);
});

t.test(
  '/readyz: spool-write-failing while the disk is full, ready again once it is not',
  async (t) => {
    // A real full disk: a 2 MiB tmpfs holding the database (we are root; CI too).
    const mnt = join(kit.dir, 'small-disk');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], {
      encoding: 'utf8',
    });
    if (m.status !== 0) {
      t.comment(`cannot mount a tmpfs here (${m.stderr.trim()}): needs root`);
      t.pass('skipped: no tmpfs');
      return;
    }
    t.teardown(() => spawnSync('umount', ['-l', mnt]));
    const db = join(mnt, 'gw.db');
    await addDevice(db);
    const g = await kit.start({ db });
    t.same((await g.readyz()).body.reasons, [], 'ready, no reasons');
    const c = await device(g.devicesPort, { reconnectPeriod: 100 });
    c.on('error', () => {});
    await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
    // Fill what is left of the disk.
    const filler = join(mnt, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd ends with ENOSPC: that is the point
    }
    // Readings keep coming; once the WAL needs room no commit succeeds (no PUBACK).
    let seq = 1;
    const acked = new Set<number>();
    const pump = setInterval(() => {
      const s = ++seq;
      if (s > 5000) return;
      c.publishAsync(obs, Buffer.from(readingBytes('ox-1', s)), { qos: 1 }).then(
        () => acked.add(s),
        () => {},
      );
    }, 2);
    t.teardown(() => clearInterval(pump));
    await until(
      'readyz reports spool-write-failing',
      async () => (await g.readyz()).body.reasons?.includes('spool-write-failing') === true,
      60_000,
    );
    clearInterval(pump);
    const r = await g.readyz();
    t.equal(r.status, 503);
    t.match(r.body, { ok: false, detail: { spoolWriteError: 'STORE_DISK_FULL' } });
    rmSync(filler);
    // The device resends what was not acknowledged; the first commit clears the reason.
    await until('ready again', async () => (await g.readyz()).status === 200, 60_000);
    t.pass(`ready again after the disk was freed (${acked.size} readings acknowledged meanwhile)`);
    c.end(true);
    g.child.kill('SIGTERM');
    t.equal((await within(60_000, 'exit', g.exited)).code, 0);
  },
);

t.test('/readyz: auth-saturated during a CONNECT storm, ready again after it', async (t) => {
  const db = join(kit.dir, 'storm.db');
  await addDevice(db); // ox-1: a chosen secret (scrypt)
  // ox-2: a generated secret (HMAC), checked even during the storm.
  const added = await kit.medchain(['gateway', 'device', 'add', 'ox-2', '--db', db]);
  const generated = /password this\): (\S+)/.exec(added.stdout)?.[1];
  t.ok(generated, 'a generated secret was printed');
  const g = await kit.start({ db });
  let flooding = true;
  let sent = 0;
  const worker = async (i: number) => {
    while (flooding && sent < 5000) {
      sent++;
      await rawConnack(
        g.devicesPort,
        { clientId: `x${sent}`, clean: true, username: `x${sent % 40}`, password: 'wrong-secret' },
        `127.0.0.${10 + (i % 50)}`,
      );
    }
  };
  const workers = Array.from({ length: 50 }, (_, i) => worker(i));
  try {
    await until(
      'readyz reports auth-saturated',
      async () => (await g.readyz()).body.reasons?.includes('auth-saturated') === true,
      60_000,
    );
  } finally {
    flooding = false;
    await Promise.all(workers);
  }
  t.pass(`storm seen after ${sent} bad CONNECTs`);
  const c2 = await within(
    30_000,
    'the HMAC device connects',
    device(g.devicesPort, { clientId: 'ox-2', username: 'ox-2', password: generated! }),
  );
  await c2.publishAsync('med/v1/dev/ox-2/obs', Buffer.from(readingBytes('ox-2', 1)), { qos: 1 });
  c2.end(true);
  t.pass('the HMAC device connected and was acknowledged right after the storm');
  await until('ready again', async () => (await g.readyz()).status === 200, 30_000);
  // A scrypt device is refused (CONNACK 3) during a storm; after it, it connects.
  const c = await within(
    30_000,
    'the scrypt device connects after the storm',
    device(g.devicesPort),
  );
  await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  c.end(true);
  g.child.kill('SIGTERM');
  t.equal((await within(60_000, 'exit', g.exited)).code, 0);
});

t.test('/readyz: sealer-stalled while the HSM child hangs; sealing resumes after', async (t) => {
  const db = join(kit.dir, 'stall.db');
  await addDevice(db);
  const g = await kit.start({ db, batch: { maxReadings: 50, maxDelayMs: 50, stallMs: 1000 } });
  const children = spawnSync('pgrep', ['-P', String(g.child.pid)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
  t.equal(children.length, 1, 'one child: the HSM signer');
  const signer = children[0]!;
  process.kill(signer, 'SIGSTOP'); // the token hangs mid-operation, as a stuck HSM does
  t.teardown(() => {
    try {
      process.kill(signer, 'SIGCONT');
    } catch {
      // already replaced
    }
  });
  const c = await device(g.devicesPort);
  await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  await until(
    'readyz reports sealer-stalled',
    async () => (await g.readyz()).body.reasons?.includes('sealer-stalled') === true,
    60_000,
  );
  const r = await g.readyz();
  t.equal(r.status, 503);
  t.ok(
    ((r.body as { detail?: { sealerStalledForMs?: number } }).detail?.sealerStalledForMs ?? 0) >=
      1000,
  );
  process.kill(signer, 'SIGCONT');
  // The signer answers again (or the supervisor replaced it): the block is sealed.
  await until('ready again', async () => (await g.readyz()).status === 200, 60_000);
  t.pass('sealing resumed');
  c.end(true);
  g.child.kill('SIGTERM');
  t.equal((await within(60_000, 'exit', g.exited)).code, 0);
});

/** The gateway's one child process (the HSM signer), stopped as a hung token would be. */
function stopSigner(t: { teardown(fn: () => unknown): void }, gatewayPid: number): number {
  const pids = spawnSync('pgrep', ['-P', String(gatewayPid)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
  if (pids.length !== 1) throw new Error(`expected one signer child, found ${pids.join(',')}`);
  const pid = pids[0]!;
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone with its parent
    }
  });
  return pid;
}

const logged = (lines: string[], msg: RegExp) =>
  lines.some((l) => {
    try {
      return msg.test((JSON.parse(l) as { msg?: string }).msg ?? '');
    } catch {
      return false;
    }
  });

t.test('SIGTERM: every step logged, receipts forwarded, exit 0', async (t) => {
  const db = join(kit.dir, 'term.db');
  await addDevice(db);
  const g = await kit.start({ db, batch: { maxReadings: 1000, maxDelayMs: 60_000 } });
  const c = await device(g.devicesPort);
  for (let seq = 1; seq <= 5; seq++) {
    await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', seq)), { qos: 1 });
  }
  c.end(true);
  g.child.kill('SIGTERM');
  t.same(await within(60_000, 'exit', g.exited), { code: 0, signal: null });
  for (const s of [
    'device connections closed',
    'queued readings committed',
    'pending readings sealed',
    'receipts awaited',
    'signer closed',
    'spool closed',
  ]) {
    t.ok(logged(g.lines, new RegExp(`^shutdown: ${s} done$`)), `logged: ${s}`);
  }
  t.ok(logged(g.lines, /^gateway stopped$/));
  t.equal(g.responder.internals.length, 1, 'the pending readings were sealed and forwarded');
});

t.test('SIGTERM with the HSM hung: the process ends within shutdown.timeoutMs', async (t) => {
  const db = join(kit.dir, 'bound.db');
  await addDevice(db);
  const boundMs = 4000;
  const g = await kit.start({ db, shutdown: { timeoutMs: boundMs } });
  stopSigner(t, g.child.pid!);
  const c = await device(g.devicesPort);
  await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  c.end(true);
  const t0 = Date.now();
  g.child.kill('SIGTERM');
  const exit = await within(boundMs + 30_000, 'exit', g.exited);
  const took = Date.now() - t0;
  t.equal(exit.code, 2, 'the bound ended it, as a failure');
  t.ok(logged(g.lines, /did not finish within its bound/), 'and said so');
  t.ok(
    g.lines.some((l) => /^medchain: GATEWAY_SHUTDOWN_INCOMPLETE: .*shutdown\.timeoutMs/.test(l)),
    'one failure line for the supervisor',
  );
  t.ok(took >= boundMs, `not before the bound (${took} ms)`);
  t.comment(`SIGTERM to exit: ${took} ms with a ${boundMs} ms bound`);
});

t.test('a second SIGTERM ends the process at once', async (t) => {
  const db = join(kit.dir, 'twice.db');
  await addDevice(db);
  const g = await kit.start({ db, shutdown: { timeoutMs: 600_000 } });
  stopSigner(t, g.child.pid!);
  const c = await device(g.devicesPort);
  await c.publishAsync(obs, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  c.end(true);
  g.child.kill('SIGTERM');
  await until('shutdown started', () => logged(g.lines, /^signal received/), 30_000);
  g.child.kill('SIGTERM');
  const exit = await within(30_000, 'exit after the second signal', g.exited);
  t.equal(exit.code, 2);
  t.ok(logged(g.lines, /^second signal: exiting now$/));
  t.ok(g.lines.some((l) => /^medchain: GATEWAY_SHUTDOWN_INCOMPLETE: second SIGTERM/.test(l)));
});
