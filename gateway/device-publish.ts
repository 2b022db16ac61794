/**
 * PUBLISH from a device: ACL, validation, spool, and the decision of what the device
 * sees. aedes 1.2 (lib/handlers/publish.js) runs authorizePublish, then for QoS 1
 * writes the PUBACK, then routes the message. So this hook's callback is the PUBACK
 * gate: it is called only after the spool COMMIT of the reading.
 *
 * What a device sees (MQTT 3.1.1 has no negative PUBACK):
 * - stored, or a duplicate of a stored (device, seq): PUBACK.
 * - invalid (a core ReadingReason) or a conflicting (device, seq): PUBACK anyway, so a
 *   message that can never become valid is not resent forever; counted and logged.
 *   It is never stored and never forwarded (authorizeForward drops readings topics).
 * - pushback (spool full) or a store failure: no PUBACK; the connection is closed
 *   [MQTT-3.3.5-2], the device keeps the message (QoS 1) and resends it on reconnect.
 * - publish outside its own `med/v1/dev/{id}/obs`, retained, or a will: refused,
 *   connection closed, nothing stored.
 */
import type { Client, PublishPacket } from 'aedes';
import type { ReadingLimits } from '../core/reading-schema.js';
import { topics } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { DeviceSessions } from './device-auth.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import { takeReading } from './reading-intake.js';
import type { RejectLog } from './reject-log.js';

export interface DevicePublishOptions {
  sessions: DeviceSessions;
  intake: Intake;
  metrics: GatewayMetrics;
  log: Logger;
  rejectLog: RejectLog;
  limits?: Partial<ReadingLimits>;
  now?: () => number;
}

export function devicePublish(opts: DevicePublishOptions) {
  const { metrics, rejectLog } = opts;

  return function authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (e?: Error | null) => void,
  ): void {
    const device = opts.sessions.deviceOf(client);
    // client null: a will left by an earlier broker; packet === client.will: a will.
    const isWill = client === null || (client as { will?: unknown }).will === packet;
    if (device === undefined || isWill || packet.topic !== topics.deviceObs(device)) {
      metrics.aclDenied.inc({ action: 'publish' });
      rejectLog.warn(
        `acl:${device}`,
        { device, topic: packet.topic.slice(0, 200) },
        'device PUBLISH denied: a device publishes only on its own readings topic',
      );
      done(new Error('not authorized'));
      return;
    }
    // [MQTT-2.3.1-1] a QoS 1 or 2 PUBLISH carries a non-zero packet identifier.
    if (packet.qos > 0 && !packet.messageId) {
      metrics.protocolRefused.inc({ reason: 'packet-id-zero' });
      rejectLog.warn(
        `pid0:${device}`,
        { device },
        'device PUBLISH refused: QoS 1/2 with packet identifier 0 [MQTT-2.3.1-1]',
      );
      done(new Error('packet identifier 0'));
      return;
    }
    if (packet.retain) {
      metrics.aclDenied.inc({ action: 'retain' });
      done(new Error('retained readings are not accepted'));
      return;
    }
    const payload =
      typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    takeReading(opts, device, payload).then(
      () => done(null),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  };
}
