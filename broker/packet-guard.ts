/**
 * aedes 1.2 has no maximum packet size, so a client could make the broker buffer a
 * packet of up to 256 MiB (MQTT 3.1.1 §2.2.3). This guard watches the bytes a client
 * sends (a passive 'data' listener: aedes reads the same chunks) and follows the MQTT
 * fixed headers — one type byte, then the Remaining Length varint of 1 to 4 bytes
 * [MQTT-2.2.3] — and calls onViolation as soon as a header announces more than
 * maxBytes, before the body arrives. The caller destroys the socket.
 */
import type { EventEmitter } from 'node:events';

export function guardPacketSize(
  socket: EventEmitter,
  maxBytes: number,
  onViolation: (detail: string) => void,
): void {
  let state: 'type' | 'len' | 'body' = 'type';
  let len = 0;
  let mult = 1;
  let lenBytes = 0;
  let skip = 0;
  let tripped = false;
  const trip = (detail: string) => {
    if (tripped) return;
    tripped = true;
    socket.off('data', onData);
    onViolation(detail);
  };
  const onData = (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length && !tripped) {
      if (state === 'body') {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        if (skip === 0) state = 'type';
      } else if (state === 'type') {
        i += 1;
        state = 'len';
        len = 0;
        mult = 1;
        lenBytes = 0;
      } else {
        const b = chunk[i++]!;
        len += (b & 0x7f) * mult;
        mult *= 128;
        lenBytes += 1;
        if (len > maxBytes) trip(`packet of ${len}+ bytes announced, limit ${maxBytes}`);
        else if ((b & 0x80) === 0) {
          skip = len;
          state = skip === 0 ? 'type' : 'body';
        } else if (lenBytes === 4) trip('malformed Remaining Length (more than 4 bytes)');
      }
    }
  };
  socket.on('data', onData);
}
