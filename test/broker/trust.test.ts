/**
 * The notary's Trust follows Trent's CRL from a file: a newer CRL is installed, and a
 * file that disappears or holds junk is refused while the CRL held stays in force (the
 * notary once died on a deleted CRL file).
 */
import { rmSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { Trust } from '../../broker/trust.js';
import { createTestPki } from '../helpers/pki.js';

const pki = await createTestPki(t);
const raw = (crl: { rawData: ArrayBuffer } | undefined) =>
  crl ? Buffer.from(crl.rawData).toString('hex') : undefined;

t.test('a CRL file that is deleted or garbled keeps the CRL held', async (t) => {
  const gw = await pki.participant('gateway', 'gw-1');
  const first = await pki.writeCrl();
  const trust = Trust.fromFiles(pki.rootPath, pki.crlPath);
  t.same(raw(trust.crl), raw(first));

  await pki.revoke(gw.signing.serial, 'keyCompromise');
  const second = await pki.writeCrl();
  const installed = await trust.updateCrlFromFile(pki.crlPath);
  t.equal(installed.ok, true, installed.detail);
  t.same(raw(trust.crl), raw(second), 'the newer CRL is in force');
  t.equal(trust.crl?.entries.length, 1, 'revoking gw-1');

  rmSync(pki.crlPath);
  const gone = await trust.updateCrlFromFile(pki.crlPath);
  t.equal(gone.ok, false);
  t.match(gone.detail, /cannot read .*crl\.pem.*the CRL held stays in force/);
  t.same(raw(trust.crl), raw(second), 'still the last CRL installed');

  writeFileSync(pki.crlPath, 'not a CRL\n');
  const junk = await trust.updateCrlFromFile(pki.crlPath);
  t.equal(junk.ok, false);
  t.same(raw(trust.crl), raw(second));
});
