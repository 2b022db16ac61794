/**
 * Readings from an existing broker (Mosquitto, EMQX) instead of the embedded one: the
 * gateway subscribes to `med/v1/dev/+/obs` with a persistent session (MQTT 5, clean
 * start 0, session expiry, fixed client id) at QoS 1, and holds each PUBACK until the
 * reading is committed: mqtt.js's customHandleAcks runs before the PUBACK is written
 * (mqtt.js calls it only on MQTT 5 connections). Device authentication and the
 * ACL are then the broker's job (docs/GATEWAY.md gives the Mosquitto settings, including
 * the queue limits that otherwise drop QoS 1 messages for a slow subscriber; gaps in
 * each device's seq are counted either way).
 *
 * Pushback or a store failure: no PUBACK; the connection is dropped after retryMs so the
 * broker redelivers the unacknowledged message to the persistent session [MQTT-4.4.0-1].
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { ReadingLimits } from '../core/reading-schema.js';
import type { Logger } from '../ops/log.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import { takeReading } from './reading-intake.js';
import { assertDeviceId } from './registry.js';
import { RejectLog } from './reject-log.js';

export const DEVICE_OBS_FILTER = 'med/v1/dev/+/obs';

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: { cert?: string; key?: string; ca: string } | undefined;
  intake: Intake;
  metrics: GatewayMetrics;
  log: Logger;
  limits?: Partial<ReadingLimits> | undefined;
  rejectLogIntervalMs?: number | undefined;
  /** How long the broker keeps our session (and queues readings) while we are away. */
  sessionExpirySeconds?: number | undefined;
  /** Wait before reconnecting after a held-back PUBACK (default 1000 ms). */
  retryMs?: number | undefined;
}

function deviceOfTopic(topic: string): string | undefined {
  const m = /^med\/v1\/dev\/([^/]+)\/obs$/.exec(topic);
  if (!m) return undefined;
  try {
    return assertDeviceId(m[1]!);
  } catch {
    return undefined;
  }
}

export class ExternalDeviceBroker {
  readonly #client: MqttClient;
  readonly #log: Logger;
  #dropping = false;

  constructor(o: ExternalBrokerOptions) {
    this.#log = o.log;
    const rejectLog = new RejectLog(o.log, o.rejectLogIntervalMs ?? 60_000);
    const deps = {
      intake: o.intake,
      metrics: o.metrics,
      log: o.log,
      rejectLog,
      limits: o.limits,
    };
    const opts: IClientOptions = {
      // MQTT 5 on this one connection: mqtt.js honours customHandleAcks (the hook that
      // holds the PUBACK) only for protocol version 5. Devices may still use 3.1.1.
      protocolVersion: 5,
      clientId: o.clientId,
      clean: false,
      // MQTT 5 ends a session at disconnect unless it has an expiry [MQTT-3.1.2-23].
      properties: { sessionExpiryInterval: o.sessionExpirySeconds ?? 7 * 24 * 3600 },
      reconnectPeriod: o.retryMs ?? 1000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.tls ? { ...o.tls, rejectUnauthorized: true } : {}),
      customHandleAcks: (topic, message, _packet, ack) => {
        const device = deviceOfTopic(topic);
        if (device === undefined) {
          o.metrics.aclDenied.inc({ action: 'publish' });
          rejectLog.warn('topic', { topic: topic.slice(0, 200) }, 'foreign topic ignored');
          ack(0);
          return;
        }
        takeReading(deps, device, message).then(
          () => ack(0),
          (err: unknown) => {
            // No PUBACK. The broker resends it only on a new connection.
            ack(err instanceof Error ? err : new Error(String(err)));
            this.#dropConnection();
          },
        );
      },
    };
    this.#client = mqtt.connect(o.url, opts);
    this.#client.on('connect', (connack) => {
      o.log.info({ url: o.url, sessionPresent: connack.sessionPresent }, 'device broker connected');
      this.#client.subscribe(DEVICE_OBS_FILTER, { qos: 1 }, (err) => {
        if (err) o.log.error({ err: err.message }, 'subscribe to device readings failed');
      });
    });
    // customHandleAcks errors surface here; the reconnect is handled by #dropConnection.
    this.#client.on('error', (err) => o.log.warn({ err: err.message }, 'device broker client'));
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  #dropConnection(): void {
    if (this.#dropping) return;
    this.#dropping = true;
    this.#log.warn('reading not acknowledged; reconnecting so the broker redelivers it');
    // Closing the stream makes mqtt.js reconnect after reconnectPeriod.
    this.#client.stream.destroy();
    this.#client.once('connect', () => {
      this.#dropping = false;
    });
  }

  close(): Promise<void> {
    return this.#client.endAsync();
  }
}
