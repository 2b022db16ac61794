/**
 * One notary, assembled: chain store → registrar → MQTT broker, checkpointer and HTTP
 * API. Start order makes "never a receipt for an uncommitted entry" hold across
 * restarts: the store is opened (and its log checked), receipts missing after a crash
 * are signed, then the broker accepts connections. Stop order is the reverse, draining
 * the registrar so every accepted submission gets its answer.
 */

import { assertNotExpired, type CertificateExpiry, certificateExpiry } from '../ca/expiry.js';
import type { Role } from '../ca/identity.js';
import type { X509Crl } from '../ca/x509.js';
import { X509Certificate } from '../ca/x509.js';
import { kidOfCertificate } from '../core/kid.js';
import type { Signer } from '../core/signer.js';
import type { AuthLimiterOptions } from '../ops/auth-limiter.js';
import type { Logger } from '../ops/log.js';
import type { CertificateBook } from './cert-book.js';
import { ChainStore } from './chain-store.js';
import { Checkpointer } from './checkpointer.js';
import { recordCrl } from './crl-log.js';
import { HttpApi } from './http-api.js';
import { NotaryMetrics } from './metrics.js';
import { NotaryBroker, type TlsMaterial } from './notary-broker.js';
import { Registrar } from './registrar.js';
import type { Trust } from './trust.js';

export interface NotaryOptions {
  readonly notaryId: string;
  readonly dbPath: string;
  /** Receipts and checkpoints are signed with this (the notary token key). */
  readonly signer: Signer;
  /** DER of the signing certificate (kid = kidOfCertificate(it)); stored for exports. */
  readonly signingCert: Uint8Array;
  readonly trust: Trust;
  readonly certs: CertificateBook;
  readonly tls: TlsMaterial;
  readonly mqtt: {
    readonly host?: string;
    readonly port: number;
    /** Failed-connection back-off (ops/auth-limiter.ts defaults). */
    readonly authLimits?: AuthLimiterOptions;
  };
  readonly http?: { readonly host?: string; readonly port: number } | undefined;
  readonly submitRoles?: readonly Role[];
  readonly connectRoles?: readonly Role[];
  readonly checkpoint?: { readonly everyEntries: number; readonly everyMs: number };
  readonly maxBlockBytes?: number;
  readonly maxBatch?: number;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics;
  /** The registration clock (ms); tests give registrations chosen times. */
  readonly now?: () => number;
}

export class Notary {
  readonly store: ChainStore;
  readonly registrar: Registrar;
  readonly broker: NotaryBroker;
  readonly checkpointer: Checkpointer;
  readonly http: HttpApi | undefined;
  readonly metrics: NotaryMetrics;
  readonly trust: Trust;
  #stopped = false;

  private constructor(parts: {
    store: ChainStore;
    registrar: Registrar;
    broker: NotaryBroker;
    checkpointer: Checkpointer;
    http: HttpApi | undefined;
    metrics: NotaryMetrics;
    trust: Trust;
  }) {
    this.store = parts.store;
    this.registrar = parts.registrar;
    this.broker = parts.broker;
    this.checkpointer = parts.checkpointer;
    this.http = parts.http;
    this.metrics = parts.metrics;
    this.trust = parts.trust;
  }

  static async start(o: NotaryOptions): Promise<Notary> {
    const metrics = o.metrics ?? new NotaryMetrics();
    const log = o.log;
    const expiry = watchExpiry(o, metrics, log);
    const store = await ChainStore.open(o.dbPath);
    const kid = kidOfCertificate(o.signingCert);
    if (Buffer.compare(Buffer.from(kid), Buffer.from(o.signer.kid)) !== 0) {
      await store.close();
      throw new Error('the signer kid is not the kid of the notary signing certificate');
    }
    await store.putCertificate(kid, o.signingCert, Date.now());
    await store.setRoot(new Uint8Array(o.trust.root.rawData));
    await store.setNotaryId(o.notaryId);
    for (const c of await store.certificates()) o.certs.add(c.der);
    const keepCrl = async (crl: X509Crl) => {
      try {
        const der = new Uint8Array(crl.rawData);
        await recordCrl(store.db, { der, thisUpdate: crl.thisUpdate.getTime() }, Date.now());
      } catch (err) {
        log?.error({ err }, 'the CRL is in force but could not be recorded for exports');
      }
    };
    if (o.trust.crl) await keepCrl(o.trust.crl);
    o.trust.onInstalled(keepCrl);
    metrics.entries.set(store.size);
    let broker: NotaryBroker | undefined;
    let checkpointer: Checkpointer | undefined;
    const registrar = new Registrar({
      notaryId: o.notaryId,
      store,
      signer: o.signer,
      check: {
        certs: o.certs,
        trust: o.trust,
        roles: o.submitRoles ?? ['gateway'],
        maxBlockBytes: o.maxBlockBytes ?? 16 << 20,
      },
      ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
      ...(o.now === undefined ? {} : { now: o.now }),
      log,
      metrics,
      onRegistered: (e) => {
        broker?.publishFeed(e);
        checkpointer?.entriesAdded();
      },
    });
    try {
      await registrar.recover();
      broker = await NotaryBroker.start({
        notaryId: o.notaryId,
        registrar,
        trust: o.trust,
        tls: o.tls,
        port: o.mqtt.port,
        ...(o.mqtt.host === undefined ? {} : { host: o.mqtt.host }),
        ...(o.submitRoles ? { submitRoles: o.submitRoles } : {}),
        maxPacketBytes: (o.maxBlockBytes ?? 16 << 20) + 4096,
        ...(o.connectRoles ? { connectRoles: o.connectRoles } : {}),
        authLimits: o.mqtt.authLimits,
        log,
        metrics,
      });
      const b = broker;
      checkpointer = new Checkpointer({
        notaryId: o.notaryId,
        store,
        signer: o.signer,
        everyEntries: o.checkpoint?.everyEntries ?? 1000,
        everyMs: o.checkpoint?.everyMs ?? 10_000,
        publish: (c) => b.publishCheckpoint(c),
        log,
        metrics,
      });
      await checkpointer.start();
      const cp = checkpointer;
      let notary: Notary | undefined;
      const http = o.http
        ? await HttpApi.start({
            store,
            metrics,
            latestCheckpoint: () => cp.latest,
            ready: () =>
              notary !== undefined &&
              !notary.#stopped &&
              b.server.listening &&
              !expiry().some((e) => e.state === 'expired'),
            beforeScrape: () => void expiry(),
            readyNotes: () =>
              expiry()
                .filter((e) => e.state !== 'ok')
                .map(
                  (e) => `certificate ${e.name} ${e.state}: notAfter ${e.notAfter.toISOString()}`,
                ),
            port: o.http.port,
            ...(o.http.host === undefined ? {} : { host: o.http.host }),
            log,
          })
        : undefined;
      notary = new Notary({
        store,
        registrar,
        broker,
        checkpointer,
        http,
        metrics,
        trust: o.trust,
      });
      return notary;
    } catch (err) {
      await checkpointer?.stop();
      await broker?.close();
      await store.close();
      throw err;
    }
  }

  /** Graceful: stop accepting, answer what was accepted, last checkpoint, close. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.registrar.close();
    await this.checkpointer.stop();
    await this.checkpointer.checkpoint();
    await this.broker.close();
    await this.http?.close();
    await this.store.close();
  }
}

/**
 * The notary's signing and TLS certificates: refuses to start on an expired one
 * (CA_CERT_EXPIRED), warns once for one expiring within 30 days, and returns a probe
 * that refreshes the gauge each time /readyz or the caller asks.
 */
function watchExpiry(
  o: NotaryOptions,
  metrics: NotaryMetrics,
  log: Logger | undefined,
): () => CertificateExpiry[] {
  const certs: [string, X509Certificate][] = [
    ['signing', new X509Certificate(Buffer.from(o.signingCert))],
    ['tls', new X509Certificate(o.tls.cert)],
  ];
  const probe = () =>
    certs.map(([name, c]) => {
      const e = certificateExpiry(name, c);
      metrics.certificateExpiry.set({ certificate: name }, e.secondsLeft);
      return e;
    });
  const now = probe();
  assertNotExpired(now, `notary '${o.notaryId}'`);
  for (const e of now.filter((x) => x.state === 'expiring')) {
    log?.warn(
      { certificate: e.name, notAfter: e.notAfter.toISOString() },
      'certificate expires within 30 days: renew it (medchain ca renew)',
    );
  }
  return probe;
}
