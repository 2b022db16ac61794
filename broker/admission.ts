/**
 * The notary broker's aedes hooks (DESIGN §5): every hook fails closed, logs its
 * reason and counts it (medchain_notary_admission_refusals_total{hook,reason}).
 *
 *   authenticate       the TLS client certificate (already chained to Trent's root by
 *                      node:tls) is validated with ca/validate.ts: role in connectRoles,
 *                      not revoked (current CRL), valid now. The MQTT client id must be
 *                      the certificate id or start with "{id}-", so no participant can
 *                      take over another's session [MQTT-3.1.4-2].
 *   authorizePublish   only med/v1/notary/{me}/submit/{own id}, for submitter roles;
 *                      a CRL signed by the root on med/v1/ca/crl (self-authenticating).
 *   authorizeSubscribe only its own receipt topic, the chain feed, the checkpoint and
 *                      the CRL topic; anything else gets a failure SUBACK (0x80).
 */
import type { TLSSocket } from 'node:tls';
import type { AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Role } from '../ca/identity.js';
import { CRL_TOPIC } from '../ca/publish.js';
import { topics } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { NotaryMetrics } from './metrics.js';
import type { Trust } from './trust.js';

export interface Identity {
  readonly role: Role;
  readonly id: string;
  readonly der: Uint8Array;
  readonly serial: string;
}

export interface AdmissionOptions {
  readonly notaryId: string;
  readonly trust: Trust;
  /** Roles that may connect (default gateway, notary, reader). */
  readonly connectRoles: readonly Role[];
  /** Roles that may submit blocks (gateway; notary on a regional notary). */
  readonly submitRoles: readonly Role[];
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
  /** A verified submission: hand it to the registrar. */
  readonly onSubmit: (identity: Identity, payload: Uint8Array) => void;
  /** A newer CRL was installed: re-check connected clients. */
  readonly onCrl?: () => void;
}

const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

function authError(code: number, msg: string): AuthenticateError {
  return Object.assign(new Error(msg), { returnCode: code }) as AuthenticateError;
}

export class Admission {
  readonly #o: AdmissionOptions;
  readonly identities = new Map<Client, Identity>();

  constructor(opts: AdmissionOptions) {
    this.#o = opts;
  }

  #refuse(hook: string, reason: string, detail: string, client: Client | null): void {
    this.#o.metrics?.admission.inc({ hook, reason });
    this.#o.log?.warn(
      { hook, reason, detail, clientId: client?.id, id: client && this.identities.get(client)?.id },
      'refused',
    );
  }

  /** Validates the peer certificate; resolves to the identity or a refusal reason. */
  async identify(
    client: Client,
  ): Promise<{ ok: true; identity: Identity } | { ok: false; reason: string; detail: string }> {
    const sock = client.conn as TLSSocket;
    const peer = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : null;
    if (!peer?.raw)
      return { ok: false, reason: 'no-certificate', detail: 'no TLS client certificate' };
    const der = new Uint8Array(peer.raw);
    let last = { reason: 'wrong-role', detail: 'no role may connect' };
    for (const role of this.#o.connectRoles) {
      const v = await this.#o.trust.validate(der, role, undefined, new Date(), 'tls');
      if (v.ok) return { ok: true, identity: { role, id: v.id, der, serial: v.serial } };
      last = { reason: v.reason, detail: v.detail };
      if (v.reason !== 'wrong-role') break;
    }
    return { ok: false, ...last };
  }

  readonly authenticate = (
    client: Client,
    _username: Readonly<string | undefined>,
    _password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void => {
    this.identify(client).then(
      (r) => {
        if (!r.ok) {
          this.#refuse('connect', r.reason, r.detail, client);
          done(authError(NOT_AUTHORIZED, r.reason), false);
          return;
        }
        const { id } = r.identity;
        if (client.id !== id && !client.id.startsWith(`${id}-`)) {
          this.#refuse('connect', 'client-id', `client id '${client.id}' for '${id}'`, client);
          done(authError(IDENTIFIER_REJECTED, 'client-id'), false);
          return;
        }
        this.identities.set(client, r.identity);
        done(null, true);
      },
      (err: unknown) => {
        this.#refuse('connect', 'error', String(err), client);
        done(authError(NOT_AUTHORIZED, 'error'), false);
      },
    );
  };

  readonly authorizePublish = (
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void => {
    if (client === null) {
      callback(null); // the broker's own publications
      return;
    }
    const who = this.identities.get(client);
    if (!who) {
      this.#refuse('publish', 'unauthenticated', packet.topic, client);
      callback(new Error('not authorized'));
      return;
    }
    const payload = toBytes(packet.payload);
    if (packet.topic === CRL_TOPIC) {
      this.#o.trust.updateCrl(payload).then((r) => {
        this.#o.metrics?.crlUpdates.inc({ outcome: r.ok ? 'installed' : 'refused' });
        if (!r.ok) {
          this.#refuse('publish', 'crl', r.detail, client);
          callback(new Error('not authorized'));
          return;
        }
        this.#o.log?.info({ from: who.id, detail: r.detail }, 'CRL installed from MQTT');
        this.#o.onCrl?.();
        callback(null);
      }, callback);
      return;
    }
    if (
      !this.#o.submitRoles.includes(who.role) ||
      packet.topic !== topics.submit(this.#o.notaryId, who.id)
    ) {
      this.#refuse('publish', 'topic', `${who.role} ${who.id} on ${packet.topic}`, client);
      callback(new Error('not authorized'));
      return;
    }
    if (packet.retain) {
      this.#refuse('publish', 'retain', packet.topic, client);
      callback(new Error('not authorized'));
      return;
    }
    this.#o.onSubmit(who, payload);
    callback(null);
  };

  readonly authorizeSubscribe = (
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void => {
    const who = this.identities.get(client);
    const me = this.#o.notaryId;
    const allowed =
      who !== undefined &&
      (sub.topic === topics.receipt(me, who.id) ||
        sub.topic === topics.chain(me) ||
        sub.topic === topics.checkpoint(me) ||
        sub.topic === CRL_TOPIC);
    if (!allowed) {
      this.#refuse('subscribe', 'topic', sub.topic, client);
      callback(null, null);
      return;
    }
    callback(null, sub);
  };
}

function toBytes(p: PublishPacket['payload']): Uint8Array {
  if (typeof p === 'string') return new TextEncoder().encode(p);
  return new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
}
