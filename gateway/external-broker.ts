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
 * mqtt.js hands one connection's messages over strictly one at a time: the next packet
 * is parsed only after the previous one's PUBACK was written (handlers/publish.js calls
 * `done` from the PUBACK's write callback). Holding the PUBACK for the commit therefore
 * means one reading per transaction per connection. With `subscribers` > 1 the gateway
 * opens that many member connections (`{clientId}-1` …) on one MQTT 5 shared
 * subscription `$share/{group}/med/v1/dev/+/obs`: the broker spreads the messages over
 * them, up to `subscribers` readings wait for the same commit, and group commit applies.
 *
 * Pushback or a store failure: no PUBACK; that member's connection is dropped after
 * retryMs so the broker redelivers the unacknowledged message to its persistent session
 * [MQTT-4.4.0-1].
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { ReadingLimits } from '../core/reading-schema.js';
import type { Logger } from '../ops/log.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import { type ReadingIntakeDeps, takeReading } from './reading-intake.js';
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
  /** Member connections on one shared subscription (default 1: a plain subscription). */
  subscribers?: number | undefined;
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

/** The share name: the gateway's client id without the characters a share name may not hold. */
export function shareFilter(clientId: string): string {
  return `$share/${clientId.replace(/[/+#]/g, '_')}/${DEVICE_OBS_FILTER}`;
}

/** One connection to the broker with its persistent session and its subscription. */
class Member {
  readonly client: MqttClient;
  subscribed = false;
  #dropping = false;
  readonly #log: Logger;

  constructor(
    o: ExternalBrokerOptions,
    clientId: string,
    filter: string,
    deps: ReadingIntakeDeps,
    rejectLog: RejectLog,
  ) {
    this.#log = o.log;
    const opts: IClientOptions = {
      // MQTT 5 on this one connection: mqtt.js honours customHandleAcks (the hook that
      // holds the PUBACK) only for protocol version 5. Devices may still use 3.1.1.
      protocolVersion: 5,
      clientId,
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
    this.client = mqtt.connect(o.url, opts);
    this.client.on('connect', (connack) => {
      o.log.info(
        { url: o.url, clientId, sessionPresent: connack.sessionPresent },
        'device broker connected',
      );
      this.client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) o.log.error({ err: err.message, filter }, 'subscribe to device readings failed');
        else this.subscribed = true;
      });
    });
    this.client.on('close', () => {
      this.subscribed = false;
    });
    // customHandleAcks errors surface here; the reconnect is handled by #dropConnection.
    this.client.on('error', (err) => o.log.warn({ err: err.message }, 'device broker client'));
  }

  #dropConnection(): void {
    if (this.#dropping) return;
    this.#dropping = true;
    this.#log.warn('reading not acknowledged; reconnecting so the broker redelivers it');
    // Closing the stream makes mqtt.js reconnect after reconnectPeriod.
    this.client.stream.destroy();
    this.client.once('connect', () => {
      this.#dropping = false;
    });
  }
}

export class ExternalDeviceBroker {
  readonly #members: Member[];

  constructor(o: ExternalBrokerOptions) {
    const rejectLog = new RejectLog(o.log, o.rejectLogIntervalMs ?? 60_000);
    const deps: ReadingIntakeDeps = {
      intake: o.intake,
      metrics: o.metrics,
      log: o.log,
      rejectLog,
      limits: o.limits,
    };
    const k = o.subscribers ?? 1;
    // One member keeps the plain subscription and client id of a single connection, so
    // an existing persistent session (and what the broker queued for it) carries on.
    this.#members =
      k === 1
        ? [new Member(o, o.clientId, DEVICE_OBS_FILTER, deps, rejectLog)]
        : Array.from(
            { length: k },
            (_, i) =>
              new Member(o, `${o.clientId}-${i + 1}`, shareFilter(o.clientId), deps, rejectLog),
          );
  }

  /** Every member connection is up (a member that is away holds its share of readings). */
  get connected(): boolean {
    return this.#members.every((m) => m.client.connected);
  }

  /** Every member is connected and subscribed (its SUBACK came back). */
  get subscribed(): boolean {
    return this.#members.every((m) => m.subscribed && m.client.connected);
  }

  async close(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.client.endAsync()));
  }
}
