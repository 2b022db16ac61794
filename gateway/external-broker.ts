/**
 * Readings from an existing broker (Mosquitto, EMQX) instead of the embedded one: the
 * gateway subscribes to `med/v1/dev/+/obs` with a persistent session (MQTT 5, clean
 * start 0, session expiry, fixed client id) at QoS 1, and holds each PUBACK until the
 * reading is committed. Device authentication and the ACL are then the broker's job
 * (docs/GATEWAY.md gives the Mosquitto settings, including the queue limits that
 * otherwise drop QoS 1 messages for a slow subscriber; gaps in each device's seq are
 * counted either way).
 *
 * Each connection is a BrokerSession (broker-session.ts): up to its Receive Maximum
 * PUBLISHes are in flight at once, so one commit gathers many readings, and each
 * PUBACK still follows its reading's COMMIT. With `subscribers` > 1 the gateway opens
 * that many member connections (`{clientId}-1` …) on one MQTT 5 shared subscription
 * `$share/{group}/med/v1/dev/+/obs` (several gateway processes may share one group:
 * docs/GATEWAY.md "Scale-out").
 *
 * Pushback or a store failure: no PUBACK; that member's connection is dropped and
 * re-opened after retryMs so the broker redelivers the unacknowledged messages to its
 * persistent session [MQTT-4.4.0-1].
 */
import type { ReadingLimits } from '../core/reading-schema.js';
import type { Logger } from '../ops/log.js';
import { BrokerSession } from './broker-session.js';
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
  /**
   * Subscribe on `$share/{shareGroup}/…` even with one member: several gateway
   * processes (each its own identity and chain) then split the devices' readings.
   */
  shareGroup?: string | undefined;
  /** Readings each member may hold unacknowledged (our MQTT 5 Receive Maximum; default 1000). */
  receiveMaximum?: number | undefined;
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
  readonly session: BrokerSession;

  constructor(
    o: ExternalBrokerOptions,
    clientId: string,
    filter: string,
    deps: ReadingIntakeDeps,
    rejectLog: RejectLog,
  ) {
    this.session = new BrokerSession({
      url: o.url,
      clientId,
      filter,
      username: o.username,
      password: o.password,
      tls: o.tls,
      sessionExpirySeconds: o.sessionExpirySeconds ?? 7 * 24 * 3600,
      receiveMaximum: o.receiveMaximum,
      retryMs: o.retryMs,
      onMessage: async (topic, message) => {
        const device = deviceOfTopic(topic);
        if (device === undefined) {
          o.metrics.aclDenied.inc({ action: 'publish' });
          rejectLog.warn('topic', { topic: topic.slice(0, 200) }, 'foreign topic ignored');
          return;
        }
        return takeReading(deps, device, message);
      },
    });
    this.session.on('connect', ({ sessionPresent }: { sessionPresent: boolean }) =>
      o.log.info({ url: o.url, clientId, sessionPresent }, 'device broker connected'),
    );
    this.session.on('close', () =>
      o.log.warn({ url: o.url, clientId }, 'device broker connection closed; reconnecting'),
    );
    this.session.on('error', (err: Error) =>
      o.log.warn({ err: err.message, clientId }, 'device broker client'),
    );
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
    const filter =
      o.shareGroup !== undefined
        ? `$share/${o.shareGroup}/${DEVICE_OBS_FILTER}`
        : k === 1
          ? DEVICE_OBS_FILTER
          : shareFilter(o.clientId);
    this.#members =
      k === 1
        ? [new Member(o, o.clientId, filter, deps, rejectLog)]
        : Array.from(
            { length: k },
            (_, i) => new Member(o, `${o.clientId}-${i + 1}`, filter, deps, rejectLog),
          );
  }

  /** Every member connection is up (a member that is away holds its share of readings). */
  get connected(): boolean {
    return this.#members.every((m) => m.session.connected);
  }

  /** Every member is connected and subscribed (its SUBACK came back). */
  get subscribed(): boolean {
    return this.#members.every((m) => m.session.subscribed);
  }

  async close(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.session.close()));
  }
}
