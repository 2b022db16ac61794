/**
 * Several gateway processes behind one device endpoint (a real Mosquitto, MQTT 5 shared
 * subscription `$share/site/…`), each with its own spool, key and block chain. One is
 * SIGKILLed mid-run and restarted: every reading the broker acknowledged to a device is
 * in exactly one gateway's spool, and each gateway's chain of blocks verifies.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import mqtt from 'mqtt';
import t from 'tap';
import { decodeBlock, ZERO_HASH } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { SqliteDb } from '../../ops/sqlite.js';
import { readingBytes, until, within } from './helpers.js';
import { mosquitto } from './mosquitto.js';

const haveMosquitto = !spawnSync('mosquitto', ['-h']).error;

function gateway(db: string, url: string, id: string, keyHex: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      join(import.meta.dirname, 'fixtures', 'ext-intake.ts'),
      db,
      url,
      id,
      'site',
      keyHex,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return within(
    60_000,
    `${id} subscribed`,
    new Promise((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (/subscribed/.test(d.toString())) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
    }),
  );
}

async function query<T>(db: string, sql: string): Promise<T[]> {
  const conn = await SqliteDb.open(db);
  try {
    return await conn.all<T>(sql);
  } catch {
    return []; // the schema is not there yet
  } finally {
    await conn.close();
  }
}

const count = async (db: string, where = '1') =>
  (await query<{ n: number }>(db, `SELECT count(*) AS n FROM readings WHERE ${where}`))[0]?.n ?? 0;

for (const n of [2, 4]) {
  t.test(
    `${n} gateway processes on one shared subscription, one killed mid-run: nothing acknowledged lost, each chain verifies`,
    { skip: haveMosquitto || process.env.CI ? false : 'mosquitto not installed' },
    async (t) => {
      const { dir, port } = await mosquitto(t);
      const url = `mqtt://127.0.0.1:${port}`;
      const gws = Array.from({ length: n }, (_, i) => {
        const key = p256.utils.randomSecretKey();
        return {
          id: `gw-${i + 1}`,
          db: join(dir, `gw-${i + 1}.db`),
          keyHex: Buffer.from(key).toString('hex'),
          publicKey: p256.getPublicKey(key, false),
        };
      });
      const procs = await Promise.all(gws.map((g) => gateway(g.db, url, g.id, g.keyHex)));
      t.teardown(() => {
        for (const p of procs) p.kill('SIGKILL');
      });
      const devices = ['ox-1', 'ox-2', 'ox-3', 'ox-4'];
      const perDevice = 2000;
      const total = devices.length * perDevice;
      let acked = 0;
      const clients = devices.map((id) =>
        mqtt.connect(url, { clientId: id, protocolVersion: 4, clean: false }),
      );
      t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))));
      await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
      clients.forEach((c, i) => {
        const dev = devices[i]!;
        for (let seq = 1; seq <= perDevice; seq++) {
          c.publish(
            `med/v1/dev/${dev}/obs`,
            Buffer.from(readingBytes(dev, seq)),
            { qos: 1 },
            (err) => {
              if (!err) acked++;
            },
          );
        }
      });
      const stored = async () =>
        (await Promise.all(gws.map((g) => count(g.db)))).reduce((a, b) => a + b, 0);
      await until('a tenth spooled', async () => (await stored()) >= total / 10, 60_000);
      procs[0]!.kill('SIGKILL');
      await new Promise((r) => procs[0]!.once('exit', r));
      procs[0] = await gateway(gws[0]!.db, url, gws[0]!.id, gws[0]!.keyHex);
      await until('every reading acknowledged by the broker', () => acked === total, 60_000);
      // Bounded wait; a lost or doubled reading shows in the counts below.
      await until('every reading spooled', async () => (await stored()) === total, 60_000).catch(
        () => {},
      );
      const each = await Promise.all(gws.map((g) => count(g.db)));
      t.equal(
        each.reduce((a, b) => a + b, 0),
        total,
        `every acknowledged reading spooled once (${each.join(' + ')})`,
      );
      t.ok(
        each.every((x) => x > 0),
        'every gateway took a share',
      );
      const distinct = new Set<string>();
      for (const g of gws) {
        for (const r of await query<{ d: string; s: number }>(
          g.db,
          'SELECT device_id AS d, seq AS s FROM readings',
        )) {
          distinct.add(`${r.d}/${r.s}`);
        }
      }
      t.equal(distinct.size, total, 'no reading in two gateways');
      for (const g of gws) {
        await until(
          `${g.id} sealed everything`,
          async () => (await count(g.db, 'block_seq IS NULL')) === 0,
          60_000,
        );
        const blocks = await query<{
          seq: number;
          prev: Buffer;
          hash: Buffer;
          bytes: Buffer;
          count: number;
        }>(g.db, 'SELECT seq, prev, hash, bytes, count FROM blocks ORDER BY seq');
        let prev: Uint8Array = ZERO_HASH;
        let sealed = 0;
        let ok = true;
        for (const [i, b] of blocks.entries()) {
          const blk = decodeBlock(b.bytes);
          const v = blk.ok ? verifyBlock(blk.value, g.publicKey, { gatewayId: g.id }) : undefined;
          if (
            !v?.ok ||
            v.header.seq !== i + 1 ||
            !Buffer.from(v.header.prev).equals(prev) ||
            !Buffer.from(v.hash).equals(b.hash)
          ) {
            ok = false;
            break;
          }
          prev = v.hash;
          sealed += v.header.count;
        }
        t.ok(
          ok && blocks.length > 0,
          `${g.id}: ${blocks.length} blocks, signatures and links verify`,
        );
        t.equal(sealed, await count(g.db), `${g.id}: its chain holds every reading it spooled`);
      }
    },
  );
}
