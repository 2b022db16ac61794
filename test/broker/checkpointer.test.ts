import { createPublicKey, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore, type Registration } from '../../broker/chain-store.js';
import { Checkpointer } from '../../broker/checkpointer.js';
import { verifyCheckpoint } from '../../core/receipt.js';
import { createLogger } from '../../ops/log.js';
import { createTestPki } from '../helpers/pki.js';
import { tempDir } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const signer = await pki.signer(me);
const key = createPublicKey(me.signing.pem);

let seq = 0;
const reg = (): Registration => ({
  gateway: 'gw-a',
  seq: ++seq,
  kid: randomBytes(32),
  signedHeader: randomBytes(40),
  bodyHash: randomBytes(32),
  body: randomBytes(8),
  internal: randomBytes(32),
});

const sizeOf = (signed: Uint8Array): number => {
  const v = verifyCheckpoint(signed, key, me.signing.kid);
  if (!v.ok) throw new Error(`checkpoint does not verify: ${v.detail}`);
  return v.value.size;
};

/** 'published' for each checkpoint published, 'idle' for each tick that kept the last one. */
function harness(t: { teardown(fn: () => unknown): void }, store: ChainStore, everyMs: number) {
  const events = new EventEmitter();
  const published: Uint8Array[] = [];
  const log = createLogger({
    name: 'test',
    level: 'debug',
    destination: {
      write(line: string) {
        if (line.includes('log idle since the last checkpoint')) events.emit('idle');
      },
    },
  });
  const cp = new Checkpointer({
    notaryId: 'notary-1',
    store,
    signer,
    everyEntries: 3,
    everyMs,
    log,
    publish: (b) => {
      published.push(b);
      events.emit('published', b);
    },
  });
  t.teardown(() => cp.stop());
  const next = async (event: string): Promise<unknown> =>
    (await once(events, event, { signal: AbortSignal.timeout(10_000) }))[0];
  return { cp, published, next };
}

t.test('at the tick: a new checkpoint only when the log grew', async (t) => {
  const store = await ChainStore.open(join(tempDir(t), 'chain.db'));
  t.teardown(() => store.close());
  const { cp, published, next } = harness(t, store, 100);
  await cp.start();
  t.same(published.map(sizeOf), [0], 'a notary without a checkpoint signs one at start');
  for (let i = 0; i < 3; i++) await next('idle');
  t.equal(published.length, 1, 'three idle ticks: no new signature');
  t.same(await cp.checkpoint(), published[0], 'asked directly: the retained one');
  t.equal((await store.checkpoints()).length, 1, 'and nothing new stored');
  await store.append([reg()], 1);
  t.equal(sizeOf((await next('published')) as Uint8Array), 1, 'the tick after growth signs');
  await next('idle');
  t.equal(published.length, 2);
  t.equal(cp.latest, published[1]);
});

t.test('every K entries without waiting for the tick; a restart re-signs nothing', async (t) => {
  const path = join(tempDir(t), 'chain.db');
  const store = await ChainStore.open(path);
  t.teardown(() => store.close());
  const hour = 3_600_000;
  const a = harness(t, store, hour);
  await a.cp.start();
  await store.append([reg(), reg()], 1);
  a.cp.entriesAdded();
  await store.append([reg()], 2);
  a.cp.entriesAdded();
  t.equal(sizeOf((await a.next('published')) as Uint8Array), 3, 'signed at 3 entries, not at 2');
  await a.cp.stop();
  const stored = (await store.checkpoints()).length;
  const b = harness(t, store, hour);
  await b.cp.start();
  t.same(b.published, [a.published.at(-1)], 'the stored checkpoint is published again as is');
  t.equal((await store.checkpoints()).length, stored, 'no new signature for an unchanged log');
});
