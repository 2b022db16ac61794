/**
 * kill -9 of the gateway behind a real Mosquitto while readings are in flight: every
 * reading the devices had acknowledged by the broker is in the spool exactly once
 * after a restart. It holds only if the gateway's PUBACK to the broker follows the
 * COMMIT: an early PUBACK would let Mosquitto forget a reading the kill then loses.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { SqliteDb } from '../../ops/sqlite.js';
import { readingBytes, until, within } from './helpers.js';
import { mosquitto } from './mosquitto.js';

const haveMosquitto = !spawnSync('mosquitto', ['-h']).error;

function intakeProcess(db: string, url: string, clientId: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      join(import.meta.dirname, 'fixtures', 'ext-intake.ts'),
      db,
      url,
      clientId,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return within(
    60_000,
    'intake subscribed',
    new Promise((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (/subscribed/.test(d.toString())) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`intake exited with ${code}`)));
    }),
  );
}

/** Readings in the spool ((device, seq) is unique there). */
async function stored(db: string): Promise<number> {
  const conn = await SqliteDb.open(db);
  try {
    const r = await conn.get<{ n: number }>('SELECT count(*) AS n FROM readings');
    return r?.n ?? 0;
  } catch {
    return 0; // the schema is not there yet
  } finally {
    await conn.close();
  }
}

t.test(
  'SIGKILL of the gateway mid-run behind Mosquitto: every acknowledged reading is spooled once after restart',
  { skip: haveMosquitto || process.env.CI ? false : 'mosquitto not installed' },
  async (t) => {
    const { dir, port } = await mosquitto(t);
    const url = `mqtt://127.0.0.1:${port}`;
    const db = join(dir, 'spool.db');
    let gw = await intakeProcess(db, url, 'gw-kill');
    t.teardown(() => {
      gw.kill('SIGKILL');
    });
    const devices = ['ox-1', 'ox-2', 'ox-3', 'ox-4'];
    const perDevice = 2500;
    const total = devices.length * perDevice;
    let acked = 0;
    const clients = devices.map((id) =>
      mqtt.connect(url, { clientId: id, protocolVersion: 4, clean: false }),
    );
    t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))));
    await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
    clients.forEach((c, i) => {
      for (let seq = 1; seq <= perDevice; seq++) {
        c.publish(
          `med/v1/dev/${devices[i]}/obs`,
          Buffer.from(readingBytes(devices[i]!, seq)),
          { qos: 1 },
          (err) => {
            if (!err) acked++;
          },
        );
      }
    });
    // Kill once part of the readings is committed and more are in flight.
    await until('a tenth spooled', async () => (await stored(db)) >= total / 10, 60_000);
    gw.kill('SIGKILL');
    await new Promise((r) => gw.once('exit', r));
    const atKill = await stored(db);
    t.ok(atKill < total, `killed with ${atKill} of ${total} spooled`);
    gw = await intakeProcess(db, url, 'gw-kill');
    await until('every reading acknowledged by the broker', () => acked === total, 60_000);
    // Bounded wait; a lost reading then shows as a count short of the total below.
    await until('every reading spooled', async () => (await stored(db)) === total, 60_000).catch(
      () => {},
    );
    t.equal(await stored(db), total, 'every acknowledged reading is in the spool');
  },
);
