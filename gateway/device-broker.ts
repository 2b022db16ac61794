/**
 * The embedded device broker: aedes 1.2 (MQTT 3.1.1) on TCP (and optionally TLS),
 * hardened as docs/GATEWAY.md lists, with the device hooks of device-auth.ts and
 * device-publish.ts.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';
import { Aedes } from 'aedes';
import type { ReadingLimits } from '../core/reading-schema.js';
import type { Logger } from '../ops/log.js';
import { deviceAuth } from './device-auth.js';
import { devicePublish } from './device-publish.js';
import { FrameLimitedConnection } from './frame-limit.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import type { DeviceRegistry } from './registry.js';
import { RejectLog } from './reject-log.js';

export interface DeviceBrokerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** A TLS listener as well, when given. */
  tls?:
    | {
        host: string;
        port: number;
        options: TlsOptions;
        /** Accept device client certificates issued by Trent (root, CRL PEM). */
        clientCertificates?: { root: string; crl?: string | undefined } | undefined;
      }
    | undefined;
  registry: DeviceRegistry;
  intake: Intake;
  metrics: GatewayMetrics;
  log: Logger;
  limits?: Partial<ReadingLimits> | undefined;
  /** Largest MQTT packet accepted (bytes); default: reading payload limit + 1 KiB. */
  maxPacketBytes?: number | undefined;
  connectTimeoutMs?: number | undefined;
  drainTimeoutMs?: number | undefined;
  keepaliveLimitS?: number | undefined;
  maxConnections?: number | undefined;
  /** Refusals per device are logged at most once per this interval (default 60 s). */
  rejectLogIntervalMs?: number | undefined;
}

export class DeviceBroker {
  readonly aedes: Aedes;
  readonly #servers: Server[];
  readonly #log: Logger;

  private constructor(aedes: Aedes, servers: Server[], log: Logger) {
    this.aedes = aedes;
    this.#servers = servers;
    this.#log = log;
  }

  static async start(o: DeviceBrokerOptions): Promise<DeviceBroker> {
    const log = o.log;
    let aedes: Aedes | undefined;
    const peerCerts = new WeakMap<object, Uint8Array>();
    const cc = o.tls?.clientCertificates;
    const auth = deviceAuth({
      registry: o.registry,
      certificates: cc
        ? {
            root: cc.root,
            crl: cc.crl,
            peerCertificate: (client) => peerCerts.get(client.conn),
          }
        : undefined,
      metrics: o.metrics,
      log,
      maxConnections: o.maxConnections ?? 10_000,
      connectedClients: () => aedes?.connectedClients ?? 0,
    });
    const rejectLog = new RejectLog(log, o.rejectLogIntervalMs ?? 60_000);
    aedes = await Aedes.createBroker({
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      drainTimeout: o.drainTimeoutMs ?? 30_000,
      keepaliveLimit: o.keepaliveLimitS ?? 0,
      maxClientsIdLength: 64,
      maxTopicLevels: 8,
      queueLimit: 42,
      preConnect: auth.preConnect,
      authenticate: auth.authenticate,
      authorizeSubscribe: auth.authorizeSubscribe,
      authorizeForward: auth.authorizeForward,
      authorizePublish: devicePublish({
        sessions: auth.sessions,
        intake: o.intake,
        metrics: o.metrics,
        log,
        rejectLog,
        ...(o.limits ? { limits: o.limits } : {}),
      }),
    });
    const a = aedes;
    a.on('clientReady', () => o.metrics.devicesConnected.set(a.connectedClients));
    a.on('clientDisconnect', () => o.metrics.devicesConnected.set(a.connectedClients));
    a.on('clientError', (client, err) =>
      log.debug({ clientId: client.id, err: err.message }, 'device connection error'),
    );
    a.on('connectionError', (_c, err) =>
      log.debug({ err: err.message }, 'device connection refused'),
    );
    const maxPacket = o.maxPacketBytes ?? (o.limits?.maxPayloadBytes ?? 64 * 1024) + 1024;
    const accept = (socket: Socket) => {
      socket.setNoDelay(true);
      const conn = new FrameLimitedConnection(socket, maxPacket, (err) => {
        o.metrics.rejected.inc({ reason: 'packet-too-large' });
        log.warn({ err: err.message, remote: socket.remoteAddress }, 'MQTT packet too large');
      });
      if (socket instanceof TLSSocket) {
        const raw = socket.getPeerCertificate(false)?.raw;
        if (raw && raw.length > 0) peerCerts.set(conn, new Uint8Array(raw));
      }
      a.handle(conn);
    };
    const servers: Server[] = [];
    try {
      const tcp = createServer(accept);
      tcp.listen(o.port, o.host);
      await once(tcp, 'listening');
      servers.push(tcp);
      if (o.tls) {
        // With client certificates: asked for, never required (a device may use its
        // secret over TLS), and judged by ca's validator in authenticate, not by OpenSSL.
        const tls = createTlsServer(
          cc ? { ...o.tls.options, requestCert: true, rejectUnauthorized: false } : o.tls.options,
          accept,
        );
        tls.listen(o.tls.port, o.tls.host);
        await once(tls, 'listening');
        servers.push(tls);
      }
    } catch (err) {
      for (const s of servers) s.close();
      await new Promise<void>((r) => a.close(() => r()));
      throw err;
    }
    return new DeviceBroker(a, servers, log);
  }

  /** The TCP listener's port (the one chosen when 0 was asked for). */
  get port(): number {
    const addr = this.#servers[0]?.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  get tlsPort(): number | undefined {
    const addr = this.#servers[1]?.address();
    return typeof addr === 'object' && addr ? addr.port : undefined;
  }

  /** Stops accepting, closes device connections (their unacked messages stay with them). */
  async close(): Promise<void> {
    for (const s of this.#servers) s.close();
    await new Promise<void>((r) => this.aedes.close(() => r()));
    this.#log.info('device broker closed');
  }
}
