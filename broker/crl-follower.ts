/**
 * Follows Trent's CRL where the CA publishes it (ca/publish.ts): the retained
 * `med/v1/ca/crl` topic on a broker the CA can reach (a clinic Mosquitto, or any MQTT
 * broker; plain or TLS). Each CRL received is handed to Trust.updateCrl, which installs
 * it only if it verifies under the root and is not older than the current one, so the
 * broker carrying it need not be trusted. The retained message means a notary that
 * (re)connects gets the current CRL at once.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CRL_TOPIC } from '../ca/publish.js';
import type { Logger } from '../ops/log.js';
import type { NotaryMetrics } from './metrics.js';
import type { Trust } from './trust.js';

export interface CrlFollowerOptions {
  readonly url: string;
  readonly trust: Trust;
  readonly clientId: string;
  /** TLS client key/cert and CA for mqtts:// URLs. */
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca: string } | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** A newer CRL was installed (re-check connected clients). */
  readonly onInstalled?: () => void;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
}

export class CrlFollower {
  readonly client: MqttClient;

  constructor(o: CrlFollowerOptions) {
    this.client = mqtt.connect(o.url, {
      protocolVersion: 4,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 2000,
      ...(o.tls ? { ...o.tls, checkServerIdentity: () => undefined } : {}),
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: o.password }),
    } as IClientOptions);
    this.client.on('connect', () => this.client.subscribe(CRL_TOPIC, { qos: 1 }));
    this.client.on('error', (err) => o.log?.warn({ err: err.message, url: o.url }, 'CRL source'));
    this.client.on('message', (_topic, payload) => {
      o.trust.updateCrl(new Uint8Array(payload)).then((r) => {
        o.metrics?.crlUpdates.inc({ outcome: r.ok ? 'installed' : 'refused' });
        o.log?.info({ url: o.url, ...r }, 'CRL received over MQTT');
        if (r.ok) o.onInstalled?.();
      });
    });
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
