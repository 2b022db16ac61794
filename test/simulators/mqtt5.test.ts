import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import t from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { DeviceClient } from '../../simulators/client.js';
import { SimDevice } from '../../simulators/device.js';

// MQTT 5 (protocolVersion 5): what the simulator does with a PUBACK that carries a reason
// code, as DESIGN §5 wants the gateway to send where MQTT 5 allows; then the same
// devices against a real Mosquitto when one is installed.

/** A minimal MQTT 5 gateway: decodes each PUBLISH and answers 0x99 + the reason if refused. */
async function stubGateway() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const send = (p: mqttPacket.Packet) =>
      socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
    parser.on('packet', (p) => {
      if (p.cmd === 'connect') send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 });
      else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' });
      else if (p.cmd === 'publish' && p.messageId !== undefined) {
        const id = /^med\/v1\/dev\/([^/]+)\/obs$/.exec(p.topic)?.[1];
        const d = decodeReading(
          p.payload as Buffer,
          id === undefined ? {} : { expectedDeviceId: id },
        );
        send(
          d.ok
            ? { cmd: 'puback', messageId: p.messageId, reasonCode: 0 }
            : {
                cmd: 'puback',
                messageId: p.messageId,
                reasonCode: 0x99, // Payload format invalid
                properties: { reasonString: d.error.reason },
              },
        );
      }
    });
    socket.on('data', (b) => parser.parse(b));
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

t.test('MQTT 5: refusals come back as reason codes and are counted by reason', async (t) => {
  const gw = await stubGateway();
  t.teardown(() => gw.close());
  const sim = new SimDevice({ kind: 'temp', id: 'temp-1', patient: 'pat-1' }, { seed: 2 });
  const dev = new DeviceClient(sim, { url: gw.url, protocolVersion: 5, auto: false });
  await once(dev, 'connect');
  const reasons: string[] = [];
  dev.on('reject', (_m, reason) => reasons.push(reason));
  for (let i = 0; i < 5; i++) dev.step();
  dev.inject('out-of-range');
  dev.inject('unknown-code');
  dev.inject('garbage');
  dev.inject('out-of-range');
  await dev.settled();
  const s = await dev.stop();
  t.equal(s.acked, 5);
  t.equal(s.rejected, 4);
  t.same(s.rejectedByReason, { 'out-of-range': 2, 'unknown-code': 1, 'malformed-cbor': 1 });
  t.same(s.byFault['out-of-range'], { sent: 2, acked: 0, rejected: 2, abandoned: 0 });
  t.same(reasons.sort(), ['malformed-cbor', 'out-of-range', 'out-of-range', 'unknown-code']);
  t.equal(s.inflight, 0, 'a refused message is answered: not re-sent');
  t.equal(dev.latency.count, 5, 'latency of acknowledged messages only');
});

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

t.test(
  'against Mosquitto, MQTT 3.1.1 and 5',
  { skip: MOSQUITTO || process.env.CI ? false : 'mosquitto not installed' },
  async (t) => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const dir = mkdtempSync(join(tmpdir(), 'medchain-mosq-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'm.conf'),
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
    );
    const broker = spawn(MOSQUITTO!, ['-c', join(dir, 'm.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    t.teardown(() => broker.kill());
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start: ${log}`)), 10_000);
      broker.stderr.on('data', (b: Buffer) => {
        log += b;
        if (log.includes('running')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const url = `mqtt://127.0.0.1:${port}`;
    const sub = mqtt.connect(url, { protocolVersion: 5 });
    t.teardown(() => sub.end(true));
    await new Promise<void>((r) => sub.once('connect', () => r()));
    await sub.subscribeAsync('med/v1/dev/+/obs', { qos: 1 });
    const got = new Map<string, number[]>();
    sub.on('message', (topic, payload) => {
      const d = decodeReading(payload);
      if (!d.ok) return t.fail(`${topic}: ${d.error.message}`);
      const list = got.get(d.value.reading.deviceId) ?? [];
      list.push(d.value.reading.seq);
      got.set(d.value.reading.deviceId, list);
    });
    for (const v of [4, 5] as const) {
      const sim = new SimDevice({ kind: 'ecg', id: `ecg-v${v}`, patient: 'pat-1' }, { seed: v });
      const dev = new DeviceClient(sim, { url, protocolVersion: v, auto: false });
      await once(dev, 'connect');
      for (let i = 0; i < 40; i++) dev.step();
      await dev.settled();
      const s = await dev.stop();
      t.equal(s.acked, 40, `v${v}: 40 PUBACKs from Mosquitto`);
    }
    await new Promise<void>((resolve) => {
      const check = () => {
        if ((got.get('ecg-v4')?.length ?? 0) + (got.get('ecg-v5')?.length ?? 0) === 80) resolve();
        else sub.once('message', check);
      };
      check();
    });
    const range = Array.from({ length: 40 }, (_, i) => i + 1);
    t.same(got.get('ecg-v4'), range);
    t.same(got.get('ecg-v5'), range);
  },
);
