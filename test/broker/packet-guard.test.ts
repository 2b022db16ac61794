import { EventEmitter } from 'node:events';
import t from 'tap';
import { guardPacketSize } from '../../broker/packet-guard.js';
import { topics } from '../../core/submit.js';
import { createTestPki } from '../helpers/pki.js';
import { connectAs, startNotary } from './helpers.js';

function feed(chunks: number[][], max: number): string[] {
  const s = new EventEmitter();
  const out: string[] = [];
  guardPacketSize(s, max, (d) => out.push(d));
  for (const c of chunks) s.emit('data', Buffer.from(c));
  return out;
}

t.test('follows fixed headers across chunks and packets', async (t) => {
  // PINGREQ (0 length), a 3-byte PUBLISH body, a 200-byte packet with a 2-byte length.
  const ok = [
    [0xc0, 0x00, 0x30, 0x03, 1, 2],
    [3, 0x30, 0xc8],
    [0x01, ...new Array(200).fill(7)],
  ];
  t.same(feed(ok, 200), [], 'within the limit');
  t.match(feed(ok, 199), [/200\+ bytes announced/], 'over the limit, seen at the header');
  t.same(
    feed([[0x30, 0xff, 0xff, 0xff, 0x7f]], 1 << 30),
    [],
    '256 MiB allowed when the limit is higher',
  );
  t.match(feed([[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]], 1 << 30), [/malformed/], '5-byte length');
  t.match(feed([[0x30], [0x80], [0x80], [0x01]], 1000), [/16384\+/], 'length split over chunks');
});

t.test('a client announcing an oversized packet is disconnected before sending it', async (t) => {
  const pki = await createTestPki(t);
  const me = await pki.participant('notary', 'notary-1');
  const gw1 = await pki.participant('gateway', 'gw-1');
  const notary = await startNotary(t, pki, me, [gw1], { maxBlockBytes: 4096 });
  const gw = await connectAs(t, pki, gw1, notary.broker.port);
  const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()));
  gw.publish(topics.submit('notary-1', 'gw-1'), Buffer.alloc(64 * 1024), { qos: 1 });
  await closed;
  const m = await notary.metrics.registry.getSingleMetricAsString(
    'medchain_notary_admission_refusals_total',
  );
  t.match(m, /hook="packet",reason="too-large"\} 1/);
  t.equal(notary.store.size, 0);
});
