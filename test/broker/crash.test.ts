import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { verifyReceipt } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const notaryKey = createPublicKey(me.signing.pem);

t.test(
  'SIGKILL between commit and receipt: receipts are made on restart, no height reused',
  async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'chain.db');
    const m = new BlockMaker('gw-1', await pki.signer(gw1));
    const blocks = [];
    for (let i = 0; i < 5; i++) blocks.push(await m.next());
    const jobFile = join(dir, 'job.json');
    writeFileSync(
      jobFile,
      JSON.stringify({
        db,
        root: pki.rootPath,
        certs: [gw1.signing.path],
        gateway: 'gw-1',
        blocks: blocks.map((b) => Buffer.from(b.bytes).toString('hex')),
      }),
    );
    const child = spawn(
      process.execPath,
      [...process.execArgv, join(import.meta.dirname, 'fixtures', 'commit-then-hang.ts'), jobFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = once(child, 'exit');
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child said: ${out} ${readFileSync(`${jobFile}.log`, 'utf8')}`)),
        30_000,
      );
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/committed 5/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    const [, signal] = await exited;
    t.equal(signal, 'SIGKILL', 'the notary died with entries committed and no receipt');

    const notary = await startNotary(t, pki, me, [gw1], { dbPath: db });
    t.equal(notary.store.size, 5, 'the committed entries survived');
    t.same(await notary.store.unreceipted(), [], 'restart signed every missing receipt');
    for (const [i, b] of blocks.entries()) {
      const a = await notary.registrar.submit('gw-1', b.bytes);
      t.equal(a.kind, 'registered', `resent block ${i + 1} answered`);
      if (a.kind !== 'registered') continue;
      t.same(a.receipt, await notary.store.receipt(i + 1), 'with the stored receipt');
      const v = verifyReceipt(a.receipt, notaryKey, me.signing.kid);
      t.ok(v.ok && v.value.entry.height === i + 1, 'naming its committed height');
    }
    const next = await m.next();
    const a = await notary.registrar.submit('gw-1', next.bytes);
    const v = a.kind === 'registered' ? verifyReceipt(a.receipt, notaryKey) : undefined;
    t.ok(v?.ok && v.value.entry.height === 6, 'the next block takes height 6: none used twice');
    t.equal(notary.store.size, 6);
  },
);
