/**
 * The notary's MQTT face: aedes (MQTT 3.1.1) behind node:tls with client certificates
 * (requestCert, rejectUnauthorized, ca = Trent's root). Submissions accepted by the
 * admission hooks go to the registrar; its answers go back on the submitter's receipt
 * topic (QoS 1). Also publishes the chain feed and the retained checkpoint.
 *
 * Storms (a revoked or foreign certificate reconnecting in a loop, handshakes that
 * fail): failed handshakes and refused CONNECTs feed an AuthLimiter, and a backed-off
 * address is dropped at its TCP connection, before the TLS handshake (the costly part);
 * certificate validation runs on a bounded queue dropped when the socket closes.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { Aedes, type AuthenticateError } from 'aedes';
import type { Role } from '../ca/identity.js';
import { encodeDet } from '../core/det-cbor.js';
import { encodeAnswer, topics } from '../core/submit.js';
import { AuthLimiter, type AuthLimiterOptions } from '../ops/auth-limiter.js';
import { BoundedQueue, QueueFullError } from '../ops/bounded-queue.js';
import type { Logger } from '../ops/log.js';
import { Admission } from './admission.js';
import type { NotaryMetrics } from './metrics.js';
import { guardPacketSize } from './packet-guard.js';
import type { RegisteredEvent, Registrar } from './registrar.js';
import type { Trust } from './trust.js';

export interface TlsMaterial {
  /** PEM of the notary's software TLS key and its Trent certificate. */
  readonly key: string;
  readonly cert: string;
}

export interface NotaryBrokerOptions {
  readonly notaryId: string;
  readonly registrar: Registrar;
  readonly trust: Trust;
  readonly tls: TlsMaterial;
  readonly host?: string;
  /** 0 for an ephemeral port. */
  readonly port: number;
  readonly connectRoles?: readonly Role[];
  readonly submitRoles?: readonly Role[];
  /** Largest MQTT packet accepted; a larger one closes the connection (default 16 MiB + 4 KiB). */
  readonly maxPacketBytes?: number;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
  /** Failed-connection limits per source address and overall (ops/auth-limiter.ts). */
  readonly authLimits?: AuthLimiterOptions | undefined;
}

/** Chain feed item: [1, entry bytes, signed header, body, receipt] (docs/FORMAT-export.md). */
export function encodeFeedItem(e: RegisteredEvent): Uint8Array {
  return encodeDet([
    1,
    e.entry.entryBytes,
    e.registration.signedHeader,
    e.registration.body,
    e.receipt,
  ]);
}

export class NotaryBroker {
  readonly aedes: Aedes;
  readonly server: Server;
  readonly admission: Admission;
  readonly limiter: AuthLimiter;
  readonly #o: NotaryBrokerOptions;
  #port = 0;

  private constructor(
    o: NotaryBrokerOptions,
    aedes: Aedes,
    admission: Admission,
    server: Server,
    limiter: AuthLimiter,
  ) {
    this.#o = o;
    this.limiter = limiter;
    this.aedes = aedes;
    this.admission = admission;
    this.server = server;
  }

  static async start(o: NotaryBrokerOptions): Promise<NotaryBroker> {
    let self: NotaryBroker | undefined;
    const admission = new Admission({
      notaryId: o.notaryId,
      trust: o.trust,
      connectRoles: o.connectRoles ?? ['gateway', 'notary', 'reader'],
      submitRoles: o.submitRoles ?? ['gateway'],
      log: o.log,
      metrics: o.metrics,
      onSubmit: (who, payload) => self?.submit(who.id, payload),
      onCrl: () => void self?.recheckClients(),
    });
    const limiter = new AuthLimiter(o.authLimits);
    const checks = new BoundedQueue(4, 64);
    const refuse = (hook: string, reason: string, remote: string | undefined) => {
      o.metrics?.admission.inc({ hook, reason });
      limiter.failed(remote);
    };
    const aedes = await Aedes.createBroker({
      id: `notary-${o.notaryId}`,
      authenticate: (client, username, password, done) => {
        const sock = client.conn as {
          remoteAddress?: string;
          once?: (e: string, f: () => void) => void;
          destroyed?: boolean;
        };
        const ac = new AbortController();
        if (sock.destroyed) ac.abort();
        else sock.once?.('close', () => ac.abort());
        checks
          .run(
            () =>
              new Promise<boolean>((resolve) =>
                admission.authenticate(client, username, password, (err, ok) => {
                  done(err, ok);
                  resolve(err === null && ok === true);
                }),
              ),
            ac.signal,
          )
          .then(
            (ok) => {
              if (ok) limiter.succeeded(sock.remoteAddress);
              else limiter.failed(sock.remoteAddress);
            },
            (err: Error) => {
              refuse(
                'connect',
                err instanceof QueueFullError ? 'busy' : 'cancelled',
                sock.remoteAddress,
              );
              done(
                Object.assign(new Error('server unavailable'), {
                  returnCode: 3,
                }) as AuthenticateError,
                false,
              );
            },
          );
      },
      authorizePublish: admission.authorizePublish,
      authorizeSubscribe: admission.authorizeSubscribe,
    });
    aedes.on('clientDisconnect', (c) => admission.identities.delete(c));
    aedes.on('clientError', (c, err) =>
      o.log?.debug({ clientId: c.id, err: err.message }, 'client error'),
    );
    const server = createServer(
      {
        key: o.tls.key,
        cert: o.tls.cert,
        ca: o.trust.root.toString('pem'),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      (socket) => {
        const limit = o.maxPacketBytes ?? (16 << 20) + 4096;
        guardPacketSize(socket, limit, (detail) => {
          o.metrics?.admission.inc({ hook: 'packet', reason: 'too-large' });
          o.log?.warn({ detail, remote: socket.remoteAddress }, 'connection closed');
          socket.destroy();
        });
        aedes.handle(socket);
      },
    );
    server.prependListener('connection', (raw: Socket) => {
      if (limiter.blockedFor(raw.remoteAddress) > 0) {
        o.metrics?.admission.inc({ hook: 'tls', reason: 'rate-limited' });
        raw.destroy();
      }
    });
    let handshakeLog = 0;
    server.on('tlsClientError', (err, sock) => {
      if (limiter.blockedFor(sock.remoteAddress) > 0) return; // dropped above
      refuse('tls', 'handshake', sock.remoteAddress);
      // At most one line a second: a handshake storm is counted, not written out.
      if (Date.now() - handshakeLog >= 1000) {
        handshakeLog = Date.now();
        o.log?.warn({ err: err.message, remote: sock.remoteAddress }, 'TLS handshake refused');
      }
    });
    server.listen(o.port, o.host ?? '127.0.0.1');
    await once(server, 'listening');
    self = new NotaryBroker(o, aedes, admission, server, limiter);
    const addr = server.address();
    self.#port = typeof addr === 'object' && addr ? addr.port : o.port;
    o.log?.info(
      { port: self.#port, notaryId: o.notaryId },
      'notary broker listening (MQTT over TLS)',
    );
    return self;
  }

  get port(): number {
    return this.#port;
  }

  submit(gatewayId: string, payload: Uint8Array): void {
    this.#o.registrar.submit(gatewayId, payload).then((answer) => {
      if (answer.seq < 1) return; // unreadable block: nothing the gateway could match (logged, counted)
      this.#publish(topics.receipt(this.#o.notaryId, gatewayId), encodeAnswer(answer), false);
    });
  }

  publishFeed(e: RegisteredEvent): void {
    this.#publish(topics.chain(this.#o.notaryId), encodeFeedItem(e), false);
  }

  publishCheckpoint(signed: Uint8Array): void {
    this.#publish(topics.checkpoint(this.#o.notaryId), signed, true);
  }

  #publish(topic: string, payload: Uint8Array, retain: boolean): void {
    this.aedes.publish(
      { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
      (err) => {
        if (err) this.#o.log?.error({ err, topic }, 'publish failed');
      },
    );
  }

  /** After a CRL update: disconnects clients whose certificate is no longer valid. */
  async recheckClients(): Promise<number> {
    let closed = 0;
    for (const [client, who] of this.admission.identities) {
      const v = await this.#o.trust.validate(who.der, who.role, who.id, new Date(), 'tls');
      if (!v.ok) {
        this.#o.metrics?.admission.inc({ hook: 'recheck', reason: v.reason });
        this.#o.log?.warn({ id: who.id, reason: v.reason, detail: v.detail }, 'disconnecting');
        this.admission.identities.delete(client);
        client.close();
        closed += 1;
      }
    }
    return closed;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await closed;
  }
}
