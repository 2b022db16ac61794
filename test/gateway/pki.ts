import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import type { ReaderKey } from '../../core/body.js';
import { softwareRecipient } from '../../core/hpke.js';
import { kidOfCertificate } from '../../core/kid.js';
import { ES256, type Signer } from '../../core/signer.js';
import { initCa, participantCsr, tempDir, tokens } from '../helpers/ca.js';

type Teardown = { teardown(fn: () => unknown): void };

/**
 * Trent on a SoftHSM token, a gateway key on the clinic's token and a notary key on
 * the notary's, each with its certificate issued from a CSR signed on the token.
 */
export async function pki(t: Teardown, gatewayId = 'gw-1', notaryId = 'notary-1') {
  const tok = tokens(t, ['trent', 'clinic', 'notary']);
  const dir = tempDir(t);
  const ca = await initCa(tok.trent!, join(dir, 'ca.db'));
  t.teardown(() => ca.close());
  const gw = await ca.issue({
    role: 'gateway',
    id: gatewayId,
    csr: await participantCsr(tok.clinic!, 'gw', 'gateway', gatewayId),
  });
  const notary = await ca.issue({
    role: 'notary',
    id: notaryId,
    csr: await participantCsr(tok.notary!, 'notary', 'notary', notaryId),
  });
  const gwDer = new Uint8Array(gw.certificate.rawData);
  const notaryDer = new Uint8Array(notary.certificate.rawData);
  const notaryToken = tok.notary!;
  const notarySigner: Signer = {
    alg: ES256,
    kid: kidOfCertificate(notaryDer),
    signDigest: (d) => notaryToken.signDigest('notary', d),
  };
  const reader: ReaderKey = { kid: 'reader-1', ...softwareRecipient(p256.utils.randomSecretKey()) };
  return {
    ca,
    dir,
    gatewayId,
    notaryId,
    rootPem: ca.rootPem,
    gwPem: gw.certificate.toString('pem'),
    gwDer,
    gwPublicKey: tok.clinic!.publicKey('gw').keyObject,
    notaryPem: notary.certificate.toString('pem'),
    notaryDer,
    notarySigner,
    reader,
    readerPublic: { kid: reader.kid, publicKey: reader.publicKey },
  };
}
