/**
 * What a device may send, judged from each MQTT 3.1.1 fixed header before any parser
 * sees the packet (frame-limit.ts calls checkFixedHeader on every packet's first byte).
 * aedes closes the connection on most of these too, but silently; here each one has a
 * reason, a counter and a (rate-limited) log line.
 *
 * - The first packet must be CONNECT [MQTT-3.1.0-1]; a second CONNECT is a violation
 *   [MQTT-3.1.0-2].
 * - Packet types 0 and 15 are reserved in 3.1.1 [MQTT-2.2.1]; CONNACK, SUBACK, UNSUBACK
 *   and PINGRESP go only from server to client.
 * - PUBLISH with QoS 3 [MQTT-3.3.1-4]; PUBREL, SUBSCRIBE, UNSUBSCRIBE need flags 0b0010
 *   [MQTT-3.6.1-1, 3.8.1-1, 3.10.1-1]; every other type needs flags 0 [MQTT-2.2.2-2].
 */

export type ProtocolReason =
  | 'not-connect-first'
  | 'second-connect'
  | 'reserved-packet-type'
  | 'server-packet-type'
  | 'qos-3'
  | 'bad-flags';

export class ProtocolViolation extends Error {
  readonly code = 'MQTT_PROTOCOL_VIOLATION';
  readonly reason: ProtocolReason;
  constructor(reason: ProtocolReason, detail: string) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}

const CONNECT = 1;
const PUBLISH = 3;
const FLAGS_0010 = new Set([6, 8, 10]);
const SERVER_ONLY = new Set([2, 9, 11, 13]);

/** Throws ProtocolViolation for a fixed header a device must never send. */
export function checkFixedHeader(firstByte: number, index: number): void {
  const type = firstByte >> 4;
  const flags = firstByte & 0x0f;
  const hex = `0x${firstByte.toString(16).padStart(2, '0')}`;
  if (index === 0 && type !== CONNECT) {
    throw new ProtocolViolation('not-connect-first', `first byte ${hex} is not CONNECT`);
  }
  if (index > 0 && type === CONNECT) {
    throw new ProtocolViolation('second-connect', 'CONNECT on a connected session');
  }
  if (type === 0 || type === 15) {
    throw new ProtocolViolation('reserved-packet-type', `packet type ${type}`);
  }
  if (SERVER_ONLY.has(type)) {
    throw new ProtocolViolation('server-packet-type', `packet type ${type} from a client`);
  }
  if (type === PUBLISH) {
    if (((flags >> 1) & 3) === 3) throw new ProtocolViolation('qos-3', `PUBLISH ${hex}`);
    return;
  }
  const want = FLAGS_0010.has(type) ? 2 : 0;
  if (flags !== want) {
    throw new ProtocolViolation(
      'bad-flags',
      `packet type ${type} with flags ${flags}, not ${want}`,
    );
  }
}
