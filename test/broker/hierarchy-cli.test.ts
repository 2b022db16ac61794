/**
 * Must show (issue 6): two gateways, an institution notary and a regional notary started
 * from the CLI run together; the institution anchors its head into the regional chain;
 * both exported chains verify offline with Trent's root alone, and `medchain verify
 * --upstream` follows the institution's anchors into the regional export.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeSign1 } from '../../core/cose-decode.js';
import { decodeDet } from '../../core/det-cbor.js';
import { decodeEntry } from '../../core/entry.js';
import { decodeCheckpointPayload } from '../../core/receipt.js';
import { decodeAnswer, topics } from '../../core/submit.js';
import { createTestPki, PARTICIPANT_TOKEN, type PkiParticipant } from '../helpers/pki.js';
import { medchain, startCli } from './cli-helpers.js';
import { BlockMaker, connectAs, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gws = [await pki.participant('gateway', 'gw-1'), await pki.participant('gateway', 'gw-2')];
const auditor = await pki.participant('reader', 'auditor-1');

function config(dir: string, me: PkiParticipant, extra: object): string {
  const path = join(dir, `${me.id}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      notaryId: me.id,
      db: `${me.id}.db`,
      token: { label: PARTICIPANT_TOKEN, key: me.id },
      signingCert: me.signing.path,
      tls: { key: me.tls.keyPath, cert: me.tls.path },
      trust: { root: pki.rootPath },
      mqtt: { port: 0 },
      http: { port: 0 },
      checkpoint: { everyEntries: 5, everyMs: 300 },
      ...extra,
    }),
  );
  return path;
}

t.test('two gateways, institution and regional notaries from the CLI', async (t) => {
  const dir = tempDir(t);
  const regional = await startCli(
    t,
    config(dir, region, { submitRoles: ['notary'], certificates: [inst.signing.path] }),
  );
  const institution = await startCli(
    t,
    config(dir, inst, {
      certificates: gws.map((g) => g.signing.path),
      upstream: {
        url: `mqtts://127.0.0.1:${regional.mqtt}`,
        notaryId: 'regional',
        everyMs: 300,
        signingCert: region.signing.path,
      },
    }),
  );
  // An auditor follows the regional chain feed.
  const feed = await connectAs(t, pki, auditor, regional.mqtt);
  await feed.subscribeAsync(topics.chain('regional'), { qos: 1 });
  const anchoredTen = new Promise<void>((resolve) => {
    feed.on('message', (_topic, payload) => {
      const item = decodeDet(new Uint8Array(payload), { maxDepth: 2 }) as Uint8Array[];
      const entry = decodeEntry(item[1]!);
      const cp = decodeSign1(item[3]!);
      const c = cp.ok ? decodeCheckpointPayload(cp.msg.payload) : undefined;
      if (entry.ok && entry.value.submitter === 'notary-1' && c?.ok && c.value.size === 10) {
        resolve();
      }
    });
  });

  await Promise.all(
    gws.map(async (g) => {
      const client = await connectAs(t, pki, g, institution.mqtt);
      await client.subscribeAsync(topics.receipt('notary-1', g.id), { qos: 1 });
      const m = new BlockMaker(g.id, await pki.signer(g));
      let got = 0;
      const all = new Promise<void>((resolve) => {
        client.on('message', (_tp, payload) => {
          const a = decodeAnswer(new Uint8Array(payload));
          if (a.ok && a.value.kind === 'registered' && ++got === 5) resolve();
        });
      });
      for (let i = 0; i < 5; i++) {
        await client.publishAsync(
          topics.submit('notary-1', g.id),
          Buffer.from((await m.next()).bytes),
          {
            qos: 1,
          },
        );
      }
      await all;
    }),
  );
  t.pass('both gateways got 5 receipts each');
  await anchoredTen;
  t.pass('the regional chain registered an anchor of the institution chain at size 10');

  for (const p of [institution, regional]) {
    const exited = new Promise((resolve) => p.child.once('exit', (code) => resolve(code)));
    p.child.kill('SIGTERM');
    t.equal(
      await exited,
      0,
      `graceful stop\n${p
        .stderr()
        .split('\n')
        .filter((l) => /"level":[56]0/.test(l))
        .join('\n')}`,
    );
  }
  for (const id of ['notary-1', 'regional']) {
    const ex = medchain([
      'notary',
      'export',
      '--db',
      join(dir, `${id}.db`),
      '--out',
      join(dir, `${id}.cbor`),
    ]);
    t.equal(ex.status, 0, ex.stderr);
  }
  const reg = medchain(['verify', join(dir, 'regional.cbor'), '--root', pki.rootPath]);
  t.equal(reg.status, 0, `regional: ${reg.stdout}${reg.stderr}`);
  t.match(reg.stdout, /^OK regional: \d+ entries/);
  // The institution may stop before the last anchor's receipt reaches it: the regional
  // export still shows that anchor registered, so every height is covered.
  const args = [join(dir, 'notary-1.cbor'), '--root', pki.rootPath];
  const followed = medchain(['verify', ...args, '--upstream', join(dir, 'regional.cbor')]);
  t.equal(followed.status, 0, `notary-1: ${followed.stdout}${followed.stderr}`);
  t.match(
    followed.stdout,
    /^OK notary-1: 10 entries .* followed into regional: heights 1\.\.10 of 10 covered/,
  );
  // The institution export given as its own upstream: an upstream chain is verified in
  // full first, and its submitters are gateways, not notaries. (A regional export that
  // lacks the anchor is test/broker/anchoring.test.ts.)
  const wrong = medchain(['verify', ...args, '--upstream', join(dir, 'notary-1.cbor')]);
  t.equal(wrong.status, 1);
  t.match(
    wrong.stdout,
    /^FAIL: upstream: upstream export 1: certificate at height 1: wrong-role: certified as gateway, required notary/,
  );
  const missing = medchain(['verify', join(dir, 'absent.cbor'), '--root', pki.rootPath]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /CLI_INPUT/);
});
