/**
 * The notary as operators run it (medchain notary --config), killed with SIGKILL in the
 * middle of a stream of submissions and restarted: every receipt ever published names
 * an entry that exists with those bytes, the gateway's resends complete the chain, no
 * height is used twice, and the exported chain verifies offline.
 */
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { verifyReceipt } from '../../core/receipt.js';
import { decodeAnswer, topics } from '../../core/submit.js';
import { createTestPki, PARTICIPANT_TOKEN } from '../helpers/pki.js';
import { medchain, medchainAsync, startCli } from './cli-helpers.js';
import { BlockMaker, connectAs, tempDir } from './helpers.js';

// Two notary processes started from TypeScript sources: generous on a loaded machine.
t.setTimeout(600_000);
const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const notaryKey = createPublicKey(me.signing.pem);

t.test(
  'SIGKILL mid-stream, restart, resend: receipts match entries, export verifies',
  async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'chain.db');
    const config = join(dir, 'notary.json');
    writeFileSync(
      config,
      JSON.stringify({
        notaryId: 'notary-1',
        db,
        token: { label: PARTICIPANT_TOKEN, key: 'notary-1' },
        signingCert: me.signing.path,
        tls: { key: me.tls.keyPath, cert: me.tls.path },
        trust: { root: pki.rootPath },
        certificates: [gw1.signing.path],
        mqtt: { port: 0 },
        http: { port: 0 },
        checkpoint: { everyEntries: 10, everyMs: 500 },
      }),
    );
    const m = new BlockMaker('gw-1', await pki.signer(gw1));
    const blocks: Awaited<ReturnType<typeof m.next>>[] = [];
    for (let i = 0; i < 30; i++) blocks.push(await m.next());
    const receipts = new Map<number, Uint8Array>();

    const missing = (bs: typeof blocks) => bs.filter((b) => !receipts.has(b.header.seq)).length;
    /** Sends the blocks without a receipt, at most `window` unanswered at a time. */
    const run = async (port: number, window: number, until: (n: number) => boolean) => {
      const gw = await connectAs(t, pki, gw1, port, `gw-1-${port}`);
      await gw.subscribeAsync(topics.receipt('notary-1', 'gw-1'), { qos: 1 });
      const todo = blocks.filter((b) => !receipts.has(b.header.seq));
      let sent = 0;
      const send = () => {
        while (sent < todo.length && sent - (todo.length - missing(todo)) < window) {
          gw.publish(topics.submit('notary-1', 'gw-1'), Buffer.from(todo[sent]!.bytes), { qos: 1 });
          sent += 1;
        }
      };
      const done = new Promise<void>((resolve) => {
        gw.on('message', (_topic, payload) => {
          const a = decodeAnswer(new Uint8Array(payload));
          if (a.ok && a.value.kind === 'registered') receipts.set(a.value.seq, a.value.receipt);
          if (until(receipts.size)) resolve();
          else send();
        });
      });
      send();
      await done;
      return gw;
    };

    const first = await startCli(t, config);
    const exited = new Promise((resolve) => first.child.once('exit', (_c, s) => resolve(s)));
    await run(first.mqtt, 4, (n) => n >= 8);
    first.child.kill('SIGKILL');
    t.equal(await exited, 'SIGKILL');
    const before = receipts.size;
    t.ok(before >= 8 && before < 30, `${before} receipts before the kill`);

    const second = await startCli(t, config);
    // One process per database: a second notary on the same config refuses to start.
    const twin = await medchainAsync(['notary', '--config', config]);
    t.equal(twin.status, 2, 'a second notary on the same database exits 2');
    t.match(twin.stderr, /medchain: STORE_IN_USE: .*chain\.db is in use by another notary process/);
    // Signing an export's checkpoint offline writes to the chain: refused while the notary runs.
    const busy = await medchainAsync([
      'notary',
      'export',
      '--config',
      config,
      '--out',
      join(dir, 'x.cbor'),
    ]);
    t.equal(busy.status, 2, 'an offline signed export of a running notary exits 2');
    t.match(busy.stderr, /medchain: STORE_IN_USE: /);
    await run(second.mqtt, 30, (n) => n === 30);
    const heights = new Set<number>();
    for (const [seq, r] of receipts) {
      const v = verifyReceipt(r, notaryKey, me.signing.kid);
      if (!v.ok) return t.fail(`receipt ${seq}: ${v.detail}`);
      const res = await fetch(
        `http://127.0.0.1:${second.http}/entries?from=${v.value.entry.height}&to=${v.value.entry.height}`,
      );
      const body = (await res.json()) as { entries: { entry: string }[] };
      t.same(
        Buffer.from(body.entries[0]!.entry, 'base64'),
        Buffer.from(v.value.entryBytes),
        `receipt for seq ${seq} names stored entry ${v.value.entry.height}`,
      );
      heights.add(v.value.entry.height);
    }
    t.equal(heights.size, 30, 'no height used twice');

    const stopped = new Promise((resolve) => second.child.once('exit', (c) => resolve(c)));
    second.child.kill('SIGTERM');
    t.equal(await stopped, 0, 'graceful stop on SIGTERM');
    const out = join(dir, 'chain.cbor');
    const ex = medchain(['notary', 'export', '--db', db, '--out', out]);
    t.equal(ex.status, 0, ex.stderr);
    t.match(ex.stdout, /exported 30 entries/);
    const ver = medchain(['verify', out, '--root', pki.rootPath, '--json']);
    t.equal(ver.status, 0, ver.stdout + ver.stderr);
    t.match(ver.stdout, /"ok":true/);
    const er = medchain(['notary', 'erase', '--db', db, '--height', '2', '--reason', 'request #7']);
    t.equal(er.status, 0, er.stderr);
    const out2 = join(dir, 'chain-erased.cbor');
    t.equal(medchain(['notary', 'export', '--db', db, '--out', out2]).status, 0);
    const ver2 = medchain(['verify', out2, '--root', pki.rootPath, '--json']);
    t.equal(ver2.status, 0, ver2.stdout);
    t.match(ver2.stdout, /"erased":\[2\]/, 'the erased body is reported, the chain verifies');
  },
);

t.test('a bad config is refused with a clear error and exit code 2', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ notaryId: 'notary-1', mqtt: { port: -1 } }));
  const r = medchain(['notary', '--config', config]);
  t.equal(r.status, 2);
  t.match(r.stderr, /NOTARY_CONFIG: invalid notary config/);
  t.match(r.stderr, /mqtt\.port/);
});
