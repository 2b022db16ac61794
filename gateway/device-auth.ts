/**
 * CONNECT and SUBSCRIBE policy for devices, as aedes hooks. Fail closed: an error
 * anywhere refuses (aedes' defaults let everyone in; ours never do).
 *
 * - [MQTT-3.1.3-8] an empty client id with CleanSession=0 gets CONNACK 0x02.
 * - A device's client id is its device id (or empty with CleanSession=1): another
 *   device cannot take over its session by reusing its id [MQTT-3.1.4-2].
 * - username = device id, password = its secret, checked against its stored hash
 *   (registry.ts: HMAC for generated secrets, scrypt on a bounded queue for chosen ones);
 *   or, on the TLS listener, a client certificate from Trent (role device) names the device.
 * - Failed CONNECTs feed the AuthLimiter (per source address and global back-off); a
 *   check still waiting when its connection closes is cancelled.
 * - Wills are removed at CONNECT: no device needs one, and a will is a publish that
 *   would otherwise happen after the client is gone.
 * - SUBSCRIBE: only exact topics under the device's own `med/v1/dev/{id}/`, never its
 *   readings topic, never wildcards, `#` or `$SYS/#` (granted 0x80).
 */
import type { AuthenticateError, Client, ConnectPacket, Subscription } from 'aedes';
import { validateCertificate } from '../ca/validate.js';
import { topics } from '../core/submit.js';
import { type AuthLimiter, addressKey } from '../ops/auth-limiter.js';
import { BoundedQueue, QueueAbortedError, QueueFullError } from '../ops/bounded-queue.js';
import type { Logger } from '../ops/log.js';
import type { GatewayMetrics } from './metrics.js';
import { assertDeviceId, type DeviceRegistry } from './registry.js';
import type { RejectLog } from './reject-log.js';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function isDeviceId(id: string): boolean {
  try {
    assertDeviceId(id);
    return true;
  } catch {
    return false;
  }
}

export interface DeviceSessions {
  /** The authenticated device id of a connection; undefined before authentication. */
  deviceOf(client: Client | null): string | undefined;
}

/** Devices that present a client certificate from Trent (TLS listener) instead of a secret. */
export interface CertificateAuth {
  root: string;
  /** Trent's CRL, or where to get the current one at each CONNECT (crl-file.ts). */
  crl?: string | (() => string) | undefined;
  /** DER of the certificate the connection's TLS client presented, if any. */
  peerCertificate(client: Client): Uint8Array | undefined;
}

export interface DeviceAuthOptions {
  registry: DeviceRegistry;
  certificates?: CertificateAuth | undefined;
  metrics: GatewayMetrics;
  log: Logger;
  limiter: AuthLimiter;
  /** Refused CONNECTs are logged at most once per interval per source address. */
  rejectLog: RejectLog;
  /**
   * Keepalive of 0 (none) or above this is capped to it [MQTT-3.1.2-24 lets the server
   * close after 1.5 × keepalive]: no device holds a half-sent packet open forever.
   * 0 leaves the device's keepalive as it is.
   */
  maxKeepaliveS: number;
  /** The source address of a connection (for the limiter). */
  remoteOf: (client: Client) => string | undefined;
}

function refuse(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

export function deviceAuth(opts: DeviceAuthOptions) {
  const connects = new WeakMap<Client, { clientId: string; clean: boolean }>();
  const devices = new WeakMap<Client, string>();
  const { metrics, log } = opts;
  const refused = (reason: string) => metrics.connectRefused.inc({ reason });
  // Certificate validation (a signature check per CONNECT) is bounded like scrypt.
  const certQueue = new BoundedQueue(4, 64);
  /** A refusal the device could avoid (wrong secret, id, certificate): feeds the back-off. */
  const failed = (client: Client, reason: string) => {
    refused(reason);
    opts.limiter.failed(opts.remoteOf(client));
  };
  const rejectOnce = (client: Client, fields: Record<string, unknown>, msg: string) => {
    const remote = opts.remoteOf(client);
    opts.rejectLog.warn(`connect:${addressKey(remote)}`, { ...fields, remote }, msg);
  };
  /** Aborts when the connection closes, so queued work for it is dropped. */
  const closedSignal = (client: Client): AbortSignal => {
    const ac = new AbortController();
    const conn = client.conn as { destroyed?: boolean; once?: (e: string, f: () => void) => void };
    if (conn.destroyed) ac.abort();
    else conn.once?.('close', () => ac.abort());
    return ac.signal;
  };
  /** The answer for work that could not run: busy (retry later) or cancelled. */
  const unavailable = (
    err: unknown,
    what: string,
    done: (e: AuthenticateError | null, ok: boolean | null) => void,
  ): boolean => {
    if (err instanceof QueueFullError) {
      refused('auth-busy');
      done(refuse(SERVER_UNAVAILABLE, 'server busy'), false);
      return true;
    }
    if (err instanceof QueueAbortedError) {
      refused('auth-cancelled');
      done(refuse(SERVER_UNAVAILABLE, `${what} cancelled`), false);
      return true;
    }
    return false;
  };

  const sessions: DeviceSessions = {
    deviceOf: (client) => (client ? devices.get(client) : undefined),
  };

  function preConnect(
    client: Client,
    packet: ConnectPacket,
    done: (e: Error | null, ok: boolean) => void,
  ): void {
    connects.set(client, { clientId: packet.clientId ?? '', clean: packet.clean !== false });
    const max = opts.maxKeepaliveS;
    const asked = packet.keepalive ?? 0;
    if (max > 0 && (asked <= 0 || asked > max)) {
      metrics.keepaliveCapped.inc();
      log.debug({ clientId: packet.clientId, asked, max }, 'keepalive capped');
      packet.keepalive = max;
    }
    if (packet.will) {
      log.info({ clientId: packet.clientId }, 'will removed from a device CONNECT');
      delete packet.will;
    }
    done(null, true);
  }

  function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (e: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const c = connects.get(client);
    if (!c) {
      refused('internal');
      done(refuse(SERVER_UNAVAILABLE, 'no CONNECT state'), false);
      return;
    }
    if (c.clientId === '' && !c.clean) {
      failed(client, 'empty-client-id');
      done(refuse(IDENTIFIER_REJECTED, 'empty client id needs CleanSession=1'), false);
      return;
    }
    const der = opts.certificates?.peerCertificate(client);
    if (der !== undefined && opts.certificates) {
      authenticateByCertificate(client, c.clientId, username, der, opts.certificates, done);
      return;
    }
    let id: string;
    try {
      id = assertDeviceId(username ?? '');
    } catch {
      failed(client, 'bad-username');
      done(refuse(BAD_USERNAME_OR_PASSWORD, 'bad user name or password'), false);
      return;
    }
    if (c.clientId !== '' && c.clientId !== id) {
      failed(client, 'client-id-mismatch');
      done(refuse(IDENTIFIER_REJECTED, 'client id must be the device id'), false);
      return;
    }
    const signal = closedSignal(client);
    opts.registry.verify(id, password, { signal, refuseSlow: opts.limiter.storm }).then(
      (ok) => {
        if (!ok) {
          failed(client, 'bad-credentials');
          rejectOnce(
            client,
            { device: id },
            'device CONNECT refused: unknown device or wrong secret',
          );
          done(refuse(BAD_USERNAME_OR_PASSWORD, 'bad user name or password'), false);
          return;
        }
        opts.limiter.succeeded(opts.remoteOf(client));
        devices.set(client, id);
        done(null, true);
      },
      (err: unknown) => {
        if (unavailable(err, 'secret check', done)) return;
        refused('internal');
        log.error({ err, device: id }, 'device registry unavailable');
        done(refuse(SERVER_UNAVAILABLE, 'server unavailable'), false);
      },
    );
  }

  /**
   * A TLS client certificate issued by Trent for role 'device' (validated with ca's
   * validator, CRL included when configured) names the device; no secret is needed.
   * A username, if sent, must be that id.
   */
  function authenticateByCertificate(
    client: Client,
    clientId: string,
    username: string | undefined,
    der: Uint8Array,
    ca: CertificateAuth,
    done: (e: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const check = () =>
      validateCertificate(der, {
        root: ca.root,
        crl: typeof ca.crl === 'function' ? ca.crl() : ca.crl,
        role: 'device',
        at: new Date(),
        skewMs: 5 * 60_000,
      });
    certQueue.run(check, closedSignal(client)).then(
      (v) => {
        if (!v.ok) {
          failed(client, v.reason === 'revoked' ? 'revoked-certificate' : 'bad-certificate');
          rejectOnce(
            client,
            { clientId, reason: v.reason, detail: v.detail },
            'device certificate refused',
          );
          done(refuse(NOT_AUTHORIZED, 'not authorized'), false);
          return;
        }
        if ((username !== undefined && username !== '' && username !== v.id) || !isDeviceId(v.id)) {
          failed(client, 'bad-username');
          done(refuse(BAD_USERNAME_OR_PASSWORD, 'user name is not the certificate id'), false);
          return;
        }
        if (clientId !== '' && clientId !== v.id) {
          failed(client, 'client-id-mismatch');
          done(refuse(IDENTIFIER_REJECTED, 'client id must be the device id'), false);
          return;
        }
        opts.limiter.succeeded(opts.remoteOf(client));
        devices.set(client, v.id);
        done(null, true);
      },
      (err: unknown) => {
        if (unavailable(err, 'certificate check', done)) return;
        refused('internal');
        log.error({ err }, 'device certificate check failed');
        done(refuse(SERVER_UNAVAILABLE, 'server unavailable'), false);
      },
    );
  }

  function authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (e: Error | null, s?: Subscription | null) => void,
  ): void {
    const id = devices.get(client);
    const own = id === undefined ? undefined : `med/v1/dev/${id}/`;
    const topic = sub.topic;
    const allowed =
      own !== undefined &&
      topic.startsWith(own) &&
      topic !== topics.deviceObs(id!) &&
      !/[+#]/.test(topic) &&
      topic.length > own.length;
    if (!allowed) {
      metrics.aclDenied.inc({ action: 'subscribe' });
      log.warn({ device: id, topic: topic.slice(0, 200) }, 'device SUBSCRIBE denied');
      done(null, null);
      return;
    }
    done(null, sub);
  }

  /** Readings are consumed by the gateway, never forwarded to any subscriber. */
  function authorizeForward<P extends { topic: string }>(_client: Client, packet: P): P | null {
    return packet.topic.startsWith('med/v1/dev/') ? null : packet;
  }

  /** True while authentication work is being refused: a queue full or a CONNECT storm. */
  const saturated = (): boolean =>
    certQueue.saturated || opts.registry.slowQueue.saturated || opts.limiter.storm;

  return { sessions, preConnect, authenticate, authorizeSubscribe, authorizeForward, saturated };
}
