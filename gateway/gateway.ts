/**
 * The gateway process: wires spool, device broker, batcher/sealer (HSM), uplink and
 * the ops endpoints from a validated config. Start order makes the store and the
 * signer ready before any device can connect; close() is the graceful shutdown:
 * stop taking readings, commit what is queued, seal what is pending, give the uplink
 * a bounded time to get receipts, then close the rest.
 */
import { readFileSync } from 'node:fs';
import { assertNotExpired, type CertificateExpiry, certificateExpiry } from '../ca/expiry.js';
import { validateCertificate } from '../ca/validate.js';
import { X509Certificate } from '../ca/x509.js';
import { equalBytes } from '../core/bytes.js';
import type { ReadingLimits } from '../core/reading-schema.js';
import { ChildSigner } from '../hsm/child-signer.js';
import { readPin, USER_PIN_ENV } from '../hsm/pin.js';
import { DbLock } from '../ops/db-lock.js';
import type { Logger } from '../ops/log.js';
import { SqliteDb } from '../ops/sqlite.js';
import { Batcher } from './batcher.js';
import type { GatewayConfig } from './config.js';
import { consoleAccess, GatewayConsole } from './console.js';
import { crlStatus, gatewayCertificates } from './console-certs.js';
import type { GatewayStatus } from './console-pages.js';
import { crlFile } from './crl-file.js';
import { DeviceBroker } from './device-broker.js';
import { GatewayCode, GatewayError } from './errors.js';
import { ExternalDeviceBroker } from './external-broker.js';
import { hsmBlockSigner, timedSigner } from './hsm-signer.js';
import { OpsHttp, type Probe } from './http.js';
import { Intake } from './intake.js';
import { type GatewayMetrics, gatewayMetrics } from './metrics.js';
import { trustNotary } from './notary-trust.js';
import { loadReaders } from './readers.js';
import { DeviceRegistry } from './registry.js';
import { runRetention } from './retention.js';
import { SealThread } from './seal-thread.js';
import { Sealer } from './sealer.js';
import { Spool } from './spool.js';
import { Uplink, type UplinkStatus } from './uplink.js';

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayError(GatewayCode.Config, `${what} ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly spool: Spool;
  /** The embedded device broker, unless readings come from an external one. */
  readonly broker: DeviceBroker | undefined;
  readonly external: ExternalDeviceBroker | undefined;
  readonly http: OpsHttp;
  readonly #intake: Intake;
  readonly #batcher: Batcher;
  readonly #uplink: Uplink;
  readonly #signer: ChildSigner;
  readonly #registryDb: SqliteDb;
  readonly #lock: DbLock;
  readonly #sealWatch: { lastSealAt: number };
  readonly #cfg: GatewayConfig;
  readonly #log: Logger;
  readonly #pruneTimer: NodeJS.Timeout;
  #retention: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  /** The certificates this gateway presents, watched for expiry (signing, tls). */
  readonly #certs: ReadonlyMap<string, X509Certificate>;

  private constructor(p: {
    cfg: GatewayConfig;
    log: Logger;
    metrics: GatewayMetrics;
    spool: Spool;
    intake: Intake;
    batcher: Batcher;
    uplink: Uplink;
    signer: ChildSigner;
    registryDb: SqliteDb;
    lock: DbLock;
    sealWatch: { lastSealAt: number };
    broker: DeviceBroker | undefined;
    external: ExternalDeviceBroker | undefined;
    http: OpsHttp;
    certs: ReadonlyMap<string, X509Certificate>;
  }) {
    this.#certs = p.certs;
    this.#cfg = p.cfg;
    this.#log = p.log;
    this.metrics = p.metrics;
    this.spool = p.spool;
    this.#intake = p.intake;
    this.#batcher = p.batcher;
    this.#uplink = p.uplink;
    this.#signer = p.signer;
    this.#registryDb = p.registryDb;
    this.#lock = p.lock;
    this.#sealWatch = p.sealWatch;
    this.broker = p.broker;
    this.external = p.external;
    this.http = p.http;
    this.#pruneTimer = setInterval(() => {
      if (this.#retention) return; // the previous pass is still running
      this.#retention = runRetention(
        this.spool,
        this.#cfg.spool,
        this.metrics,
        this.#log,
        Date.now(),
      )
        .catch((err: unknown) => this.#log.error({ err }, 'retention pass failed'))
        .finally(() => {
          this.#retention = undefined;
        });
    }, p.cfg.spool.pruneIntervalMs);
    this.#pruneTimer.unref();
  }

  static async start(cfg: GatewayConfig, log: Logger): Promise<Gateway> {
    // Before anything else: a second gateway on this database stops here (STORE_IN_USE).
    const lock = await DbLock.acquire(cfg.db, 'gateway');
    try {
      return await Gateway.#start(cfg, log, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  static async #start(cfg: GatewayConfig, log: Logger, lock: DbLock): Promise<Gateway> {
    const root = readText(cfg.root, 'root certificate');
    const crl = cfg.crl ? readText(cfg.crl, 'CRL') : undefined;
    const certPem = readText(cfg.certificate, 'gateway certificate');
    const certs = ownCertificates(certPem, cfg);
    const expiry = [...certs].map(([name, c]) => certificateExpiry(name, c));
    assertNotExpired(expiry, `gateway '${cfg.gatewayId}'`);
    for (const e of expiry.filter((x) => x.state === 'expiring')) {
      log.warn(
        { certificate: e.name, notAfter: e.notAfter.toISOString() },
        'certificate expires within 30 days: renew it (medchain ca renew)',
      );
    }
    const own = await validateCertificate(certPem, {
      root,
      crl,
      role: 'gateway',
      id: cfg.gatewayId,
      at: new Date(),
      skewMs: 5 * 60_000,
    });
    if (!own.ok) {
      throw new GatewayError(
        GatewayCode.Config,
        `the gateway certificate ${cfg.certificate} is not valid for gateway '${cfg.gatewayId}' (${own.reason}): ${own.detail}`,
      );
    }
    const certDer = new Uint8Array(new X509Certificate(certPem).rawData);
    const notary = await trustNotary({
      certificate: readText(cfg.notary.certificate, 'notary certificate'),
      root,
      crl,
      notaryId: cfg.notary.id,
    });
    const readers = await loadReaders(cfg.readers, { root, crl });
    const pin = readPin({ file: cfg.hsm.pinFile, env: USER_PIN_ENV, what: 'HSM user PIN' });
    const signer = await ChildSigner.start({
      token: cfg.hsm.token,
      pin,
      keys: [cfg.hsm.key],
      modulePath: cfg.hsm.module,
      logger: log,
    });
    const started: { close(): Promise<void> | void }[] = [signer];
    try {
      if (!equalBytes(signer.publicKey(cfg.hsm.key).point, own.publicKey.point)) {
        throw new GatewayError(
          GatewayCode.Config,
          `the key '${cfg.hsm.key}' on token '${cfg.hsm.token}' is not the key of ${cfg.certificate}`,
        );
      }
      const metrics = gatewayMetrics();
      const spool = await Spool.open(cfg.db);
      started.push(spool);
      // Device lookups at CONNECT get a connection of their own (WAL readers run beside
      // the writer), so a CONNECT flood never queues in front of the spool's commits.
      const registryDb = await SqliteDb.open(cfg.db);
      started.push(registryDb);
      const intake = new Intake(spool, {
        maxBatch: cfg.spool.maxCommitBatch,
        maxBacklogReadings: cfg.spool.maxBacklogReadings,
        maxBacklogBytes: cfg.spool.maxBacklogBytes,
      });
      const sealThread = new SealThread();
      started.push(sealThread);
      const sealer = new Sealer({
        spool,
        blockSealer: sealThread,
        gatewayId: cfg.gatewayId,
        signer: timedSigner(hsmBlockSigner(signer, cfg.hsm.key, certDer), (s) =>
          metrics.signSeconds.observe(s),
        ),
        readers,
        metrics,
        log,
        maxReadings: cfg.batch.maxReadings,
        maxBytes: cfg.batch.maxBytes,
      });
      const batcher = new Batcher(spool, sealer, cfg.batch, log);
      batcher.onClosed = () => sealThread.close();
      const uplink = new Uplink({
        url: cfg.notary.url,
        tls: cfg.notary.tls
          ? {
              cert: readText(cfg.notary.tls.cert, 'uplink TLS certificate'),
              key: readText(cfg.notary.tls.key, 'uplink TLS key'),
              ca: readText(cfg.notary.tls.ca, 'uplink TLS CA'),
              ...(cfg.notary.tls.servername ? { servername: cfg.notary.tls.servername } : {}),
            }
          : undefined,
        clientId: cfg.notary.clientId ?? cfg.gatewayId,
        gatewayId: cfg.gatewayId,
        notaryId: cfg.notary.id,
        notary,
        spool,
        metrics,
        log,
        window: cfg.notary.window,
        retryMs: cfg.notary.retryMs,
        answerTimeoutMs: cfg.notary.answerTimeoutMs,
      });
      started.push(uplink);
      intake.onCommit = (n, bytes) => batcher.added(n, bytes);
      const holdAbove = cfg.batch.holdIntakeAbove || 4 * cfg.batch.maxReadings;
      intake.beforeCommit = async () => {
        if (await batcher.caughtUp(holdAbove, cfg.batch.maxDelayMs)) metrics.intakeHeld.inc();
      };
      const sealWatch = { lastSealAt: Date.now() };
      batcher.onSealed = () => {
        sealWatch.lastSealAt = Date.now();
        uplink.kick();
      };
      await batcher.start();
      const ext = cfg.devices.external;
      const limits = Object.fromEntries(
        Object.entries(cfg.limits).filter(([, v]) => v !== undefined),
      ) as Partial<ReadingLimits>;
      const external = ext
        ? new ExternalDeviceBroker({
            url: ext.url,
            clientId: ext.clientId ?? `medchain-gateway-${cfg.gatewayId}`,
            username: ext.username,
            password: ext.passwordFile
              ? readText(ext.passwordFile, 'device broker password').replace(/\r?\n$/, '')
              : undefined,
            tls: ext.ca
              ? {
                  ca: readText(ext.ca, 'device broker CA'),
                  ...(ext.cert ? { cert: readText(ext.cert, 'device broker certificate') } : {}),
                  ...(ext.key ? { key: readText(ext.key, 'device broker key') } : {}),
                }
              : undefined,
            sessionExpirySeconds: ext.sessionExpirySeconds,
            subscribers: ext.subscribers,
            shareGroup: ext.shareGroup,
            intake,
            metrics,
            log,
            limits,
            rejectLogIntervalMs: cfg.devices.rejectLogIntervalMs,
          })
        : undefined;
      if (external) started.push(external);
      const tls = cfg.devices.tls;
      const ws = cfg.devices.ws;
      // Device certificates are judged at each CONNECT against the CRL file as it is then.
      const trent = { root, crl: cfg.crl && crl ? crlFile(cfg.crl, crl, log) : undefined };
      const broker = ext
        ? undefined
        : await DeviceBroker.start({
            host: cfg.devices.host,
            port: cfg.devices.port,
            tls: tls
              ? {
                  host: tls.host,
                  port: tls.port,
                  options: {
                    cert: readText(tls.cert, 'device TLS certificate'),
                    key: readText(tls.key, 'device TLS key'),
                    ...(tls.ca ? { ca: readText(tls.ca, 'device TLS CA') } : {}),
                  },
                  clientCertificates: tls.deviceCertificates ? trent : undefined,
                }
              : undefined,
            ws: ws
              ? {
                  host: ws.host,
                  port: ws.port,
                  path: ws.path,
                  tls: ws.tls
                    ? {
                        options: {
                          cert: readText(ws.tls.cert, 'device WebSocket TLS certificate'),
                          key: readText(ws.tls.key, 'device WebSocket TLS key'),
                          ...(ws.tls.ca
                            ? { ca: readText(ws.tls.ca, 'device WebSocket TLS CA') }
                            : {}),
                        },
                        clientCertificates: ws.tls.deviceCertificates ? trent : undefined,
                      }
                    : undefined,
                }
              : undefined,
            registry: new DeviceRegistry(registryDb),
            intake,
            metrics,
            log,
            limits,
            maxPacketBytes: cfg.devices.maxPacketBytes,
            connectTimeoutMs: cfg.devices.connectTimeoutMs,
            drainTimeoutMs: cfg.devices.drainTimeoutMs,
            keepaliveLimitS: cfg.devices.keepaliveLimitS,
            maxConnections: cfg.devices.maxConnections,
            rejectLogIntervalMs: cfg.devices.rejectLogIntervalMs,
          });
      if (broker) started.push(broker);
      let gw: Gateway | undefined;
      const http = await OpsHttp.start({
        host: cfg.http.host,
        port: cfg.http.port,
        registry: metrics.registry,
        refresh: async () => {
          await gw?.refreshGauges();
        },
        health: async () => (gw ? gw.health() : { ok: false, detail: { starting: true } }),
        ready: async () => (gw ? gw.readiness() : { ok: false, detail: { starting: true } }),
        ...(cfg.http.console.enabled
          ? {
              console: new GatewayConsole({
                gatewayId: cfg.gatewayId,
                access: consoleAccess(cfg.http.console, readText),
                metrics,
                status: async () => {
                  if (!gw) throw new GatewayError(GatewayCode.Config, 'the gateway is starting');
                  return gw.consoleStatus();
                },
                devices: (limit) => spool.deviceActivity(limit),
                certificates: gatewayCertificates(cfg),
                crl: () => crlStatus(cfg.crl),
                log,
              }),
            }
          : {}),
      });
      gw = new Gateway({
        cfg,
        log,
        metrics,
        spool,
        intake,
        batcher,
        uplink,
        signer,
        registryDb,
        lock,
        sealWatch,
        broker,
        external,
        http,
        certs,
      });
      log.info(
        {
          gatewayId: cfg.gatewayId,
          devicesPort: broker?.port,
          devicesTlsPort: broker?.tlsPort,
          devicesWsPort: broker?.wsPort,
          devicesExternal: ext?.url,
          httpPort: http.port,
          notary: cfg.notary.url,
        },
        'gateway ready',
      );
      return gw;
    } catch (err) {
      for (const s of started.reverse()) {
        try {
          await s.close();
        } catch {
          // already failing; the first error is the one to report
        }
      }
      throw err;
    }
  }

  async refreshGauges(): Promise<UplinkStatus> {
    const uplink = await this.#uplink.status();
    const b = this.spool.backlog();
    this.metrics.backlogReadings.set(b.readings);
    this.metrics.backlogBytes.set(b.bytes);
    this.metrics.pushback.set(this.#intake.overloaded ? 1 : 0);
    for (const e of this.certificateExpiry()) {
      this.metrics.certificateExpiry.set({ certificate: e.name }, e.secondsLeft);
    }
    const erased = await this.spool.db.get<{ n: number }>('SELECT count(*) AS n FROM erasures');
    this.metrics.erasedBlocks.set(erased?.n ?? 0);
    return uplink;
  }

  /** What the console's status page shows (gateway/console-pages.ts). */
  async consoleStatus(): Promise<GatewayStatus> {
    const uplink = await this.refreshGauges();
    const b = this.spool.backlog();
    const [oldest] = await this.spool.unreceipted(1, 1);
    return {
      gatewayId: this.#cfg.gatewayId,
      notaryId: this.#cfg.notary.id,
      uplink,
      backlogReadings: b.readings,
      backlogBytes: b.bytes,
      pushback: this.#intake.overloaded,
      lastBlock: (await this.spool.head()).seq,
      oldestUnreceipted: oldest ? { seq: oldest.seq, sealedAt: oldest.sealedAt } : undefined,
    };
  }

  async health(): Promise<Probe> {
    const head = await this.spool.head();
    return { ok: true, detail: { lastBlock: head.seq } };
  }

  /** How long readings have waited unsealed with no block sealed meanwhile (0: not stalled). */
  async #sealerStalledForMs(now: number): Promise<number> {
    const since = now - this.#sealWatch.lastSealAt;
    const bound = this.#cfg.batch.stallMs || Math.max(30_000, 10 * this.#cfg.batch.maxDelayMs);
    if (since < bound) return 0;
    const oldest = await this.spool.oldestUnsealedAt();
    if (oldest === undefined || now - oldest < bound) return 0;
    return Math.min(since, now - oldest);
  }

  async readiness(): Promise<Probe> {
    const uplink = await this.refreshGauges();
    const b = this.spool.backlog();
    const pushback = this.#intake.overloaded;
    const closing = this.#closing !== undefined;
    const externalDown = this.external !== undefined && !this.external.connected;
    const writeFailure = this.#intake.writeFailure;
    const authSaturated = this.broker?.authSaturated() ?? false;
    const stalledMs = await this.#sealerStalledForMs(Date.now());
    const certs = this.certificateExpiry();
    // Expiring soon is a warning (still ready); expired means blocks would be refused.
    const expired = certs.some((e) => e.state === 'expired');
    const reasons = [
      ...(pushback ? ['pushback'] : []),
      ...(closing ? ['closing'] : []),
      ...(externalDown ? ['device-broker-down'] : []),
      ...(writeFailure ? ['spool-write-failing'] : []),
      ...(authSaturated ? ['auth-saturated'] : []),
      ...(stalledMs > 0 ? ['sealer-stalled'] : []),
      ...(expired ? ['certificate-expired'] : []),
    ];
    const accepting = reasons.length === 0;
    return {
      ok: accepting,
      reasons,
      detail: {
        acceptingReadings: accepting,
        ...(writeFailure ? { spoolWriteError: writeFailure.code } : {}),
        ...(stalledMs > 0 ? { sealerStalledForMs: stalledMs } : {}),
        certificates: certs.map((e) => ({
          certificate: e.name,
          notAfter: e.notAfter.toISOString(),
          state: e.state,
        })),
        ...(this.external ? { deviceBrokerConnected: !externalDown } : {}),
        pushback,
        closing,
        backlogReadings: b.readings,
        backlogBytes: b.bytes,
        // A notary outage does not stop intake (readings spool, blocks wait on disk);
        // it is reported so an operator sees how long and how much is waiting.
        uplinkConnected: uplink.connected,
        uplinkDownForMs: uplink.downForMs,
        unreceiptedBlocks: uplink.unreceiptedBlocks,
        oldestUnreceiptedAgeMs: uplink.oldestUnreceiptedAgeMs,
      },
    };
  }

  /** Where each of this gateway's certificates stands now (warning window: 30 days). */
  certificateExpiry(now: Date = new Date()): CertificateExpiry[] {
    return [...this.#certs].map(([name, c]) => certificateExpiry(name, c, now));
  }

  /** Graceful shutdown; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * The steps of a graceful shutdown, each logged with its outcome and duration and
   * each bounded: a step that overruns (a hung HSM, a frozen client) is abandoned and
   * the next one runs. The whole is bounded again by the CLI (shutdown.timeoutMs).
   */
  async #close(): Promise<void> {
    const log = this.#log;
    const t0 = Date.now();
    const step = async (name: string, fn: () => unknown, ms: number): Promise<void> => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        Promise.resolve()
          .then(fn)
          .then(
            () => 'done',
            (err: unknown) => {
              log.error({ err, step: name }, 'shutdown step failed');
              return 'failed';
            },
          ),
        new Promise<string>((r) => {
          timer = setTimeout(() => r('abandoned'), ms);
        }),
      ]);
      clearTimeout(timer);
      log.info({ step: name, outcome, ms: Date.now() - started }, `shutdown: ${name} ${outcome}`);
    };
    log.info('gateway shutting down');
    clearInterval(this.#pruneTimer);
    await step('retention pass', () => this.#retention, 5000);
    await step('device connections closed', () => this.broker?.close(), 5000);
    await step('external broker closed', () => this.external?.close(), 5000);
    await step('queued readings committed', () => this.#intake.close(), 5000);
    await step('pending readings sealed', () => this.#batcher.close(), 10_000);
    await step(
      'receipts awaited',
      () => this.#waitForReceipts(this.#cfg.notary.drainOnShutdownMs),
      this.#cfg.notary.drainOnShutdownMs + 1000,
    );
    await step('uplink closed', () => this.#uplink.close(), 3000);
    await step('signer closed', () => this.#signer.close(), 3000);
    await step('http closed', () => this.http.close(), 1000);
    await step('registry closed', () => this.#registryDb.close(), 2000);
    await step('spool closed', () => this.spool.close(), 5000);
    await step('lock released', () => this.#lock.release(), 1000);
    log.info({ ms: Date.now() - t0 }, 'gateway stopped');
  }

  /** Until every block has a receipt, the uplink is down, or `ms` have passed. */
  async #waitForReceipts(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let wake: () => void = () => {};
    this.#uplink.onReceipt = () => wake();
    try {
      while (Date.now() < deadline && this.#uplink.connected) {
        if ((await this.spool.unreceipted(1, 1)).length === 0) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(250, Math.max(0, deadline - Date.now()))).unref();
        });
      }
    } finally {
      this.#uplink.onReceipt = () => {};
    }
  }
}

/** The certificates a gateway presents: its signing certificate and, if any, its uplink TLS one. */
function ownCertificates(signingPem: string, cfg: GatewayConfig): Map<string, X509Certificate> {
  const parse = (pem: string, path: string) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new GatewayError(
        GatewayCode.Config,
        `${path} is not a certificate: ${(err as Error).message}`,
      );
    }
  };
  const certs = new Map([['signing', parse(signingPem, cfg.certificate)]]);
  if (cfg.notary.tls) {
    const path = cfg.notary.tls.cert;
    certs.set('tls', parse(readText(path, 'uplink TLS certificate'), path));
  }
  return certs;
}
