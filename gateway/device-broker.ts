/**
 * The embedded device broker: aedes 1.2 (MQTT 3.1.1) on TCP, and optionally TLS and
 * MQTT over WebSocket (ws:// or wss://), hardened as docs/GATEWAY.md lists, with the
 * device hooks of device-auth.ts and device-publish.ts. Every listener feeds the same
 * aedes instance, so authentication, ACL and limits are the same on all of them.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';
import { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { ReadingLimits } from '../core/reading-schema.js';
import { AuthLimiter, type AuthLimiterOptions } from '../ops/auth-limiter.js';
import type { Logger } from '../ops/log.js';
import { type CertificateAuth, deviceAuth } from './device-auth.js';
import { devicePublish } from './device-publish.js';
import { FrameLimitedConnection } from './frame-limit.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import { checkFixedHeader, ProtocolViolation } from './packet-rules.js';
import type { DeviceRegistry } from './registry.js';
import { RejectLog } from './reject-log.js';

/** Trent's root and CRL (or a function giving the current CRL) for device client certificates. */
export type CertificateTrust = Pick<CertificateAuth, 'root' | 'crl'>;

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
        clientCertificates?: CertificateTrust | undefined;
      }
    | undefined;
  /** An MQTT-over-WebSocket listener as well (wss:// with `tls`), when given. */
  ws?:
    | {
        host: string;
        port: number;
        /** HTTP path of the upgrade (default /mqtt). */
        path?: string | undefined;
        tls?:
          | {
              options: TlsOptions;
              clientCertificates?: CertificateTrust | undefined;
            }
          | undefined;
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
  /** Most open device connections, logged in or not (default 10,000). */
  maxConnections?: number | undefined;
  /** Failed-CONNECT limits per source address and overall (ops/auth-limiter.ts). */
  authLimits?: AuthLimiterOptions | undefined;
  /** Refusals per device are logged at most once per this interval (default 60 s). */
  rejectLogIntervalMs?: number | undefined;
}

const LISTEN_BACKLOG = 4096;

export class DeviceBroker {
  readonly aedes: Aedes;
  /** The WebSocket listener's port, when there is one. */
  readonly wsPort: number | undefined;
  readonly #servers: Server[];
  readonly #ws: WebSocketServer | undefined;
  readonly #hasTls: boolean;
  readonly #log: Logger;
  /** True while authentication work is being refused (readiness reason auth-saturated). */
  readonly authSaturated: () => boolean;
  readonly limiter: AuthLimiter;
  #open: () => number;

  private constructor(
    aedes: Aedes,
    servers: Server[],
    ws: WebSocketServer | undefined,
    wsPort: number | undefined,
    hasTls: boolean,
    log: Logger,
    auth: { saturated: () => boolean; limiter: AuthLimiter; open: () => number },
  ) {
    this.authSaturated = auth.saturated;
    this.limiter = auth.limiter;
    this.#open = auth.open;
    this.aedes = aedes;
    this.#servers = servers;
    this.#ws = ws;
    this.wsPort = wsPort;
    this.#hasTls = hasTls;
    this.#log = log;
  }

  static async start(o: DeviceBrokerOptions): Promise<DeviceBroker> {
    const log = o.log;
    const peerCerts = new WeakMap<object, Uint8Array>();
    const remotes = new WeakMap<object, string>();
    const limiter = new AuthLimiter(o.authLimits);
    const keepaliveMax = o.keepaliveLimitS ?? 300;
    const rejectLog = new RejectLog(log, o.rejectLogIntervalMs ?? 60_000);
    // One trust (Trent's root and CRL) for every listener that asks for client certificates.
    const cc = o.tls?.clientCertificates ?? o.ws?.tls?.clientCertificates;
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
      limiter,
      rejectLog,
      maxKeepaliveS: keepaliveMax,
      remoteOf: (client) => remotes.get(client.conn),
    });
    const a = await Aedes.createBroker({
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      drainTimeout: o.drainTimeoutMs ?? 30_000,
      keepaliveLimit: keepaliveMax,
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
    a.on('clientReady', () => o.metrics.devicesConnected.set(a.connectedClients));
    a.on('clientDisconnect', () => o.metrics.devicesConnected.set(a.connectedClients));
    /** Counts and logs (rate-limited per address and reason) one protocol violation. */
    const violation = (reason: string, remote: string | undefined, detail: string) => {
      o.metrics.protocolRefused.inc({ reason });
      rejectLog.warn(
        `proto:${remote}:${reason}`,
        { reason, remote, detail: detail.slice(0, 200) },
        'device connection closed: MQTT protocol violation',
      );
    };
    // Violations only aedes' parser sees (the topic is in the variable header).
    const aedesReason = (message: string): string | undefined =>
      /is not allowed in PUBLISH/.test(message)
        ? 'publish-wildcard'
        : /too many levels/.test(message)
          ? 'topic-too-deep'
          : /^Invalid|not supported|Malformed/i.test(message)
            ? 'malformed-packet'
            : undefined;
    const onAedesError = (client: { conn?: unknown; id?: string } | null, err: Error) => {
      const reason = aedesReason(err.message);
      const remote = client?.conn ? remotes.get(client.conn as object) : undefined;
      if (reason) violation(reason, remote, err.message);
      else log.debug({ clientId: client?.id, err: err.message }, 'device connection error');
    };
    a.on('clientError', onAedesError);
    a.on('connectionError', onAedesError);
    const maxPacket = o.maxPacketBytes ?? (o.limits?.maxPayloadBytes ?? 64 * 1024) + 1024;
    /**
     * Counts and logs a packet refused at its fixed header (too large, or a protocol
     * violation) once per connection (a WebSocket may report a large one twice).
     */
    const tooLarge = (remote: string | undefined) => {
      let told = false;
      return (err: Error) => {
        if (told) return;
        told = true;
        if (err instanceof ProtocolViolation) {
          violation(err.reason, remote, err.message);
          return;
        }
        o.metrics.rejected.inc({ reason: 'packet-too-large' });
        log.warn({ err: err.message, remote }, 'MQTT packet too large');
      };
    };
    // Every open connection counts, logged in or not: a flood of sockets that never
    // finish CONNECT must not take the places of real devices' connections.
    let open = 0;
    const maxConnections = o.maxConnections ?? 10_000;
    /** Refuses a connection before any work: too many open, or its address backed off. */
    const admit = (stream: Duplex, remote: string | undefined): boolean => {
      let reason: string | undefined;
      if (open >= maxConnections) reason = 'max-connections';
      else if (limiter.blockedFor(remote) > 0) reason = 'rate-limited';
      if (reason === undefined) return true;
      o.metrics.connectRefused.inc({ reason });
      rejectLog.warn(`admit:${reason}`, { remote }, `device connection refused: ${reason}`);
      stream.destroy();
      return false;
    };
    /** Hands one device byte stream to aedes behind the frame limit. */
    const handle = (
      stream: Duplex,
      refused: (err: Error) => void,
      tlsSocket: unknown,
      remote: string | undefined,
    ): void => {
      if (!admit(stream, remote)) return;
      open++;
      stream.once('close', () => open--);
      const conn = new FrameLimitedConnection(stream, maxPacket, refused, checkFixedHeader);
      if (remote !== undefined) remotes.set(conn, remote);
      if (tlsSocket instanceof TLSSocket) {
        const raw = tlsSocket.getPeerCertificate(false)?.raw;
        if (raw && raw.length > 0) peerCerts.set(conn, new Uint8Array(raw));
      }
      a.handle(conn);
    };
    const accept = (socket: Socket) => {
      socket.setNoDelay(true);
      handle(socket, tooLarge(socket.remoteAddress), socket, socket.remoteAddress);
    };
    // Client certificates: asked for, never required (a device may use its secret over
    // TLS), and judged by ca's validator in authenticate, not by OpenSSL.
    const askForCertificates = (options: TlsOptions, ask: boolean): TlsOptions =>
      ask ? { ...options, requestCert: true, rejectUnauthorized: false } : options;
    /**
     * TLS listeners: a backed-off address is dropped before its handshake (the costly
     * part), and a failed handshake counts as a failed attempt.
     */
    const guardTls = (server: Server): void => {
      server.prependListener('connection', (raw: Socket) => {
        if (limiter.blockedFor(raw.remoteAddress) > 0) {
          o.metrics.connectRefused.inc({ reason: 'rate-limited' });
          raw.destroy();
        }
      });
      server.on('tlsClientError', (err: Error, sock: TLSSocket) => {
        if (limiter.blockedFor(sock.remoteAddress) > 0) return; // dropped above
        o.metrics.connectRefused.inc({ reason: 'tls-handshake' });
        limiter.failed(sock.remoteAddress);
        rejectLog.warn(
          `tls:${sock.remoteAddress}`,
          { remote: sock.remoteAddress, err: err.message },
          'device TLS handshake failed',
        );
      });
    };
    const servers: Server[] = [];
    let wsServer: WebSocketServer | undefined;
    let wsPort: number | undefined;
    try {
      const tcp = createServer(accept);
      // A deep accept queue: under a CONNECT flood a full one drops SYNs, and a real
      // device's retransmitted SYN waits a second or more (the kernel caps it at somaxconn).
      tcp.listen({ port: o.port, host: o.host, backlog: LISTEN_BACKLOG });
      await once(tcp, 'listening');
      servers.push(tcp);
      if (o.tls) {
        const tls = createTlsServer(
          askForCertificates(o.tls.options, o.tls.clientCertificates !== undefined),
          accept,
        );
        guardTls(tls);
        tls.listen({ port: o.tls.port, host: o.tls.host, backlog: LISTEN_BACKLOG });
        await once(tls, 'listening');
        servers.push(tls);
      }
      if (o.ws) {
        const wtls = o.ws.tls;
        const http = wtls
          ? createHttpsServer(
              askForCertificates(wtls.options, wtls.clientCertificates !== undefined),
            )
          : createHttpServer();
        // A WebSocket message is buffered whole before anyone sees it: the frame limit
        // applies to it too (an MQTT packet plus its at most 5-byte fixed header).
        wsServer = new WebSocketServer({
          server: http,
          path: o.ws.path ?? '/mqtt',
          maxPayload: maxPacket + 5,
          handleProtocols: (offered) => ['mqtt', 'mqttv3.1'].find((p) => offered.has(p)) ?? false,
        });
        wsServer.on('connection', (ws, req: IncomingMessage) => {
          const refused = tooLarge(req.socket.remoteAddress);
          ws.on('error', (err: Error & { code?: string }) => {
            if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') refused(err);
          });
          req.socket.setNoDelay(true);
          handle(createWebSocketStream(ws), refused, req.socket, req.socket.remoteAddress);
        });
        if (wtls) guardTls(http as unknown as Server);
        http.listen({ port: o.ws.port, host: o.ws.host, backlog: LISTEN_BACKLOG });
        await once(http, 'listening');
        servers.push(http);
        const addr = http.address();
        wsPort = typeof addr === 'object' && addr ? addr.port : undefined;
      }
    } catch (err) {
      wsServer?.close();
      for (const s of servers) s.close();
      await new Promise<void>((r) => a.close(() => r()));
      throw err;
    }
    return new DeviceBroker(a, servers, wsServer, wsPort, o.tls !== undefined, log, {
      saturated: auth.saturated,
      limiter,
      open: () => open,
    });
  }

  /** Open device connections, logged in or not. */
  get openConnections(): number {
    return this.#open();
  }

  /** The TCP listener's port (the one chosen when 0 was asked for). */
  get port(): number {
    const addr = this.#servers[0]?.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  get tlsPort(): number | undefined {
    if (!this.#hasTls) return undefined;
    const addr = this.#servers[1]?.address();
    return typeof addr === 'object' && addr ? addr.port : undefined;
  }

  /** Stops accepting, closes device connections (their unacked messages stay with them). */
  async close(): Promise<void> {
    // Open WebSocket connections end with aedes.close() below (it closes every client).
    this.#ws?.close();
    for (const s of this.#servers) s.close();
    await new Promise<void>((r) => this.aedes.close(() => r()));
    this.#log.info('device broker closed');
  }
}
