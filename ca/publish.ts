import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import mqtt, { type IClientOptions } from 'mqtt';
import { CaCode, CaError } from './errors.js';
import { parseRoleUri } from './identity.js';
import { tlsPeerIdentity } from './tls-peer.js';
import type { X509Crl } from './x509.js';

/** Where Trent's CRL lives on the bus: retained, so a broker that connects later gets it. */
export const CRL_TOPIC = 'med/v1/ca/crl';

export interface PublishOptions {
  topic?: string | undefined;
  /** Bound on connect + PUBACK + disconnect (default 10 s). */
  timeoutMs?: number | undefined;
  clientId?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** TLS (mqtts:) with a client certificate, as a notary's broker requires. */
  tls?: PublishTls | undefined;
}

export interface PublishTls {
  /** PEM: the publisher's TLS key and its Trent TLS certificate (a role the broker admits). */
  key: string | Uint8Array;
  cert: string | Uint8Array;
  /** PEM: the root the broker's certificate must chain to (Trent's root for a notary). */
  ca: string | Uint8Array;
  /**
   * The broker is notary {id}: its certificate must name urn:medchain:notary:{id}
   * (medchain certificates carry no DNS name). Absent: the usual host name check.
   */
  notaryId?: string | undefined;
}

/** The participant id in a certificate's URI SAN (urn:medchain:{role}:{id}). */
function certificateId(cert: string | Uint8Array): string {
  let san: string | undefined;
  try {
    san = new X509Certificate(cert).subjectAltName;
  } catch (err) {
    throw new CaError(
      CaCode.BadInput,
      `the TLS certificate is unreadable: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  for (const part of (san ?? '').split(', ')) {
    const id = part.startsWith('URI:') ? parseRoleUri(part.slice(4))?.id : undefined;
    if (id !== undefined) return id;
  }
  throw new CaError(CaCode.BadInput, 'the TLS certificate names no medchain participant (URI SAN)');
}

function tlsOptions(tls: PublishTls): Partial<IClientOptions> {
  const { notaryId } = tls;
  return {
    key: Buffer.from(tls.key),
    cert: Buffer.from(tls.cert),
    ca: Buffer.from(tls.ca),
    ...(notaryId === undefined
      ? {}
      : {
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            tlsPeerIdentity(cert, 'notary', notaryId),
        }),
  };
}

/**
 * Publishes the CRL (DER bytes) as a retained QoS 1 message and waits for the
 * broker's PUBACK. MQTT 3.1.1 (protocolVersion 4), which aedes and Mosquitto speak.
 * With a client certificate the default client id is `{certificate id}-crl`: a notary
 * admits only client ids that are the certificate's id or start with `{id}-`.
 */
export async function publishCrl(
  url: string,
  crl: X509Crl,
  opts: PublishOptions = {},
): Promise<void> {
  const topic = opts.topic ?? CRL_TOPIC;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const clientId =
    opts.clientId ??
    (opts.tls ? `${certificateId(opts.tls.cert)}-crl` : `medchain-ca-${process.pid}`);
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    clientId,
    ...(opts.username === undefined ? {} : { username: opts.username }),
    ...(opts.password === undefined ? {} : { password: opts.password }),
    ...(opts.tls ? tlsOptions(opts.tls) : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const failed = new Promise<never>((_, reject) => {
    client.once('error', reject);
    client.once('close', () => reject(new Error('the broker closed the connection')));
  });
  try {
    await Promise.race([
      (async () => {
        if (!client.connected) {
          await new Promise<void>((resolve) => client.once('connect', () => resolve()));
        }
        await client.publishAsync(topic, Buffer.from(crl.rawData), { qos: 1, retain: true });
      })(),
      deadline,
      failed,
    ]);
  } catch (err) {
    throw new CaError(
      CaCode.PublishFailed,
      `publishing the CRL to ${url} (${topic}) failed: ${(err as Error).message}. Check the broker address and that it accepts this client; the CRL file is unaffected.`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    await client.endAsync(true).catch(() => undefined);
  }
}
