/**
 * From a validated config to a running notary: the token signer (a supervised
 * ChildSigner; receipts and checkpoints are signed on the token), the trust anchors
 * (root, CRL file followed for changes), known certificates, then Notary.start and,
 * when configured, upstream anchoring. stop() undoes it in reverse.
 */

import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { X509Certificate } from '../ca/x509.js';
import { equalBytes } from '../core/bytes.js';
import { kidOfCertificate } from '../core/kid.js';
import { digestSigner, type Signer } from '../core/signer.js';
import { ChildSigner } from '../hsm/child-signer.js';
import { readPin, USER_PIN_ENV } from '../hsm/pin.js';
import { registerCertificateExpiry } from '../ops/cert-metrics.js';
import { DbLock } from '../ops/db-lock.js';
import type { Logger } from '../ops/log.js';
import { registerSignerMetrics } from '../ops/signer-metrics.js';
import { CertificateBook } from './cert-book.js';
import type { NotaryConfig } from './config.js';
import { CrlFollower } from './crl-follower.js';
import { BrokerCode, BrokerError } from './errors.js';
import { NotaryMetrics } from './metrics.js';
import { Notary } from './notary.js';
import { Trust } from './trust.js';
import { Upstream } from './upstream.js';

export interface RunningNotary {
  readonly notary: Notary;
  readonly upstream: Upstream | undefined;
  stop(): Promise<void>;
}

export function certDer(path: string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(readFileSync(path, 'utf8')).rawData);
  } catch (err) {
    throw new BrokerError(
      BrokerCode.Config,
      `${path}: not a PEM certificate (${(err as Error).message})`,
    );
  }
}

/** A core Signer over a ChildSigner key, kid = the certificate's kid; refuses a cert for another key. */
export function tokenSigner(child: ChildSigner, keyLabel: string, cert: Uint8Array): Signer {
  const point = child.publicKey(keyLabel).point;
  const certKey = new X509Certificate(Buffer.from(cert)).publicKey.rawData;
  const spkiPoint = new Uint8Array(certKey).slice(-65);
  if (!equalBytes(point, spkiPoint)) {
    throw new BrokerError(
      BrokerCode.Config,
      `the certificate is not for token key '${keyLabel}' (public keys differ)`,
    );
  }
  return digestSigner(kidOfCertificate(cert), (d) => child.signDigest(keyLabel, d));
}

/** The notary's token opened as its config says: the signer of receipts and checkpoints. */
export async function openNotarySigner(
  c: NotaryConfig,
  log: Logger,
): Promise<{ signer: Signer; signingCert: Uint8Array; child: ChildSigner }> {
  const pin = readPin({ file: c.token.pinFile, env: USER_PIN_ENV, what: 'notary token user PIN' });
  const keyLabel = c.token.key ?? c.notaryId;
  const child = await ChildSigner.start({
    token: c.token.label,
    pin,
    keys: [keyLabel],
    modulePath: c.token.module,
    logger: log,
  });
  try {
    const signingCert = certDer(c.signingCert);
    return { signer: tokenSigner(child, keyLabel, signingCert), signingCert, child };
  } catch (err) {
    await child.close();
    throw err;
  }
}

export async function runNotary(c: NotaryConfig, log: Logger): Promise<RunningNotary> {
  // Before anything else: a second notary on this database stops here (STORE_IN_USE).
  const lock = await DbLock.acquire(c.db, 'notary');
  try {
    return await startLocked(c, log, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(c: NotaryConfig, log: Logger, lock: DbLock): Promise<RunningNotary> {
  const { signer, signingCert, child } = await openNotarySigner(c, log);
  try {
    const trust = Trust.fromFiles(c.trust.root, c.trust.crl, c.trust.skewMs);
    const certs = new CertificateBook();
    const n = certs.loadPaths(c.certificates);
    log.info({ certificates: n }, 'submitter certificates loaded');
    const metrics = new NotaryMetrics({ defaults: true });
    registerSignerMetrics(metrics.registry, child, c.token.label);
    registerCertificateExpiry(metrics.registry, [
      { usage: 'signing', certificate: signingCert },
      { usage: 'tls', certificate: readFileSync(c.tls.cert, 'utf8') },
      { usage: 'root', certificate: new Uint8Array(trust.root.rawData) },
      ...certs.all().map((der) => ({ usage: 'peer' as const, certificate: der })),
      ...(c.upstream?.signingCert
        ? [{ usage: 'peer' as const, certificate: certDer(c.upstream.signingCert) }]
        : []),
    ]);
    const notary = await Notary.start({
      notaryId: c.notaryId,
      dbPath: c.db,
      signer,
      signingCert,
      trust,
      certs,
      tls: { key: readFileSync(c.tls.key, 'utf8'), cert: readFileSync(c.tls.cert, 'utf8') },
      mqtt: c.mqtt,
      http: c.http,
      submitRoles: c.submitRoles,
      connectRoles: c.connectRoles,
      checkpoint: c.checkpoint,
      maxBlockBytes: c.maxBlockBytes,
      maxBatch: c.maxBatch,
      log,
      metrics,
    });
    const crlPath = c.trust.crl;
    if (crlPath) {
      watchFile(crlPath, { interval: 2000 }, () => {
        trust.updateCrlFromFile(crlPath).then(
          async (r) => {
            metrics.crlUpdates.inc({ outcome: r.ok ? 'installed' : 'refused' });
            log.info({ file: crlPath, ...r }, 'CRL file changed');
            if (r.ok) await notary.broker.recheckClients();
          },
          (err: unknown) => log.error({ err }, 'reading the CRL failed'),
        );
      });
    }
    const tlsPem = {
      key: readFileSync(c.tls.key, 'utf8'),
      cert: readFileSync(c.tls.cert, 'utf8'),
      ca: trust.root.toString('pem'),
    };
    const crlFollower = c.trust.crlUrl
      ? new CrlFollower({
          url: c.trust.crlUrl,
          trust,
          clientId: `${c.notaryId}-crl`,
          ...(c.trust.crlUrl.startsWith('mqtts:') ? { tls: tlsPem } : {}),
          onInstalled: () => void notary.broker.recheckClients(),
          log,
          metrics,
        })
      : undefined;
    const upstream = c.upstream
      ? await Upstream.start({
          notaryId: c.notaryId,
          upstreamId: c.upstream.notaryId,
          url: c.upstream.url,
          everyMs: c.upstream.everyMs,
          tls: {
            key: readFileSync(c.upstream.tls?.key ?? c.tls.key, 'utf8'),
            cert: readFileSync(c.upstream.tls?.cert ?? c.tls.cert, 'utf8'),
            ca: trust.root.toString('pem'),
          },
          upstreamCert: certDer(c.upstream.signingCert),
          store: notary.store,
          checkpointer: notary.checkpointer,
          signer,
          log,
          metrics,
        })
      : undefined;
    return {
      notary,
      upstream,
      async stop() {
        if (crlPath) unwatchFile(crlPath);
        await crlFollower?.stop();
        await upstream?.stop();
        await notary.stop();
        await child.close();
        await lock.release();
      },
    };
  } catch (err) {
    await child.close();
    throw err;
  }
}
