/**
 * Readings per second through a real Mosquitto into the gateway's spool (external
 * broker path): `devices` mqtt.js clients publish `perDevice` QoS 1 readings each, with
 * up to `inflight` unacknowledged per client; the clock stops when every reading is
 * committed. Loopback only; mosquitto (apt) must be installed.
 *
 *   node dist/bench/external-broker.js [--devices 8] [--per-device 500] [--inflight 20]
 *                                      [--subscribers 1]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { encodeReading } from '../core/reading.js';
import { ExternalDeviceBroker } from '../gateway/external-broker.js';
import { Intake } from '../gateway/intake.js';
import { gatewayMetrics } from '../gateway/metrics.js';
import { Spool } from '../gateway/spool.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '8' },
    'per-device': { type: 'string', default: '500' },
    inflight: { type: 'string', default: '20' },
    subscribers: { type: 'string', default: '1' },
  },
});
const devices = Number(values.devices);
const perDevice = Number(values['per-device']);
const inflight = Number(values.inflight);
const subscribers = Number(values.subscribers);

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

const dir = mkdtempSync(join(tmpdir(), 'medchain-bench-ext-'));
const port = await freePort();
writeFileSync(
  join(dir, 'mosquitto.conf'),
  [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'log_dest stderr',
    'log_type all',
    'max_queued_messages 1000000',
    'max_inflight_messages 0',
    '',
  ].join('\n'),
);
const broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
await new Promise<void>((resolve) =>
  createInterface({ input: broker.stderr! }).on('line', (l) => /running/.test(l) && resolve()),
);

const spool = await Spool.open(join(dir, 'gw.db'));
const metrics = gatewayMetrics();
const intake = new Intake(spool, { maxBacklogReadings: 1e7, maxBacklogBytes: 2 ** 40 });
let commits = 0;
intake.onCommit = () => commits++;
const ext = new ExternalDeviceBroker({
  url: `mqtt://127.0.0.1:${port}`,
  clientId: 'medchain-gateway-bench',
  subscribers,
  intake,
  metrics,
  log: pino({ level: 'silent' }),
});
await new Promise<void>((resolve) => {
  const check = () => (ext.subscribed ? resolve() : setTimeout(check, 20));
  check();
});

const total = devices * perDevice;
const clients = await Promise.all(
  Array.from({ length: devices }, (_, d) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      clientId: `bench-${d}`,
      reconnectPeriod: 0,
    }),
  ),
);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(
  clients.map(async (c, d) => {
    const id = `dev-${d}`;
    let next = 1;
    const worker = async () => {
      while (next <= perDevice) {
        const seq = next++;
        const r = encodeReading({
          deviceId: id,
          seq,
          deviceTime: Date.now(),
          patient: 'MRN-000123',
          observations: [
            { kind: 'numeric', code: 150456, value: { mantissa: 97, exponent: 0 }, unit: '%' },
          ],
        });
        await c.publishAsync(`med/v1/dev/${id}/obs`, Buffer.from(r), { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
  }),
);
const published = performance.now();
for (;;) {
  const row = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
  if ((row?.n ?? 0) >= total) break;
  await new Promise((r) => setTimeout(r, 10));
}
const done = performance.now();
const cpu = process.cpuUsage(cpu0);
const gaps = (await metrics.gaps.get()).values[0]?.value ?? 0;
process.stdout.write(
  `${JSON.stringify({
    subscribers,
    devices,
    perDevice,
    inflight,
    readings: total,
    seconds: Number(((done - t0) / 1000).toFixed(2)),
    readingsPerSec: Math.round(total / ((done - t0) / 1000)),
    publishedAfterS: Number(((published - t0) / 1000).toFixed(2)),
    transactions: commits,
    readingsPerTransaction: Number((total / commits).toFixed(1)),
    seqGapsCounted: gaps,
    // This process runs the devices as well as the gateway side.
    cpuMsPerReading: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(3)),
  })}\n`,
);
for (const c of clients) c.end(true);
await ext.close();
await intake.close();
await spool.close();
broker.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
