import mqtt from 'mqtt';
import { CaCode, CaError } from './errors.js';
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
}

/**
 * Publishes the CRL (DER bytes) as a retained QoS 1 message and waits for the
 * broker's PUBACK. MQTT 3.1.1 (protocolVersion 4), which aedes and Mosquitto speak.
 */
export async function publishCrl(
  url: string,
  crl: X509Crl,
  opts: PublishOptions = {},
): Promise<void> {
  const topic = opts.topic ?? CRL_TOPIC;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    clientId: opts.clientId ?? `medchain-ca-${process.pid}`,
    ...(opts.username === undefined ? {} : { username: opts.username }),
    ...(opts.password === undefined ? {} : { password: opts.password }),
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
