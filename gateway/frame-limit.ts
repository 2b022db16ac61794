/**
 * A connection that refuses MQTT packets larger than a limit before they are buffered.
 * mqtt-packet (inside aedes) buffers a whole PUBLISH before anyone can look at it, and
 * MQTT allows 256 MiB per packet; this reads each fixed header's Remaining Length
 * (MQTT 3.1.1 §2.2.3) as bytes arrive and destroys the connection at the first packet
 * over the limit. Bytes pass through unchanged otherwise.
 */
import { Duplex } from 'node:stream';

export class FrameLimitError extends Error {
  readonly remainingLength: number;
  constructor(len: number, max: number) {
    super(`MQTT packet of ${len} bytes exceeds the ${max}-byte limit`);
    this.remainingLength = len;
  }
}

/** Scans MQTT fixed headers across chunk boundaries. */
export class FrameScanner {
  readonly #max: number;
  readonly #onHeader: ((firstByte: number, index: number) => void) | undefined;
  #packets = 0;
  #state: 'type' | 'length' | 'body' = 'type';
  #len = 0;
  #mul = 1;
  #lenBytes = 0;
  #left = 0;

  /** `onHeader` sees each packet's first byte (type and flags) and may throw to refuse it. */
  constructor(maxPacketBytes: number, onHeader?: (firstByte: number, index: number) => void) {
    this.#max = maxPacketBytes;
    this.#onHeader = onHeader;
  }

  /** Throws FrameLimitError (or on a malformed length) as soon as it is known. */
  scan(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'type') {
        this.#onHeader?.(chunk[i]!, this.#packets++);
        i++;
        this.#state = 'length';
        this.#len = 0;
        this.#mul = 1;
        this.#lenBytes = 0;
      } else if (this.#state === 'length') {
        const b = chunk[i++]!;
        this.#len += (b & 0x7f) * this.#mul;
        this.#mul *= 128;
        this.#lenBytes++;
        if (this.#len > this.#max) throw new FrameLimitError(this.#len, this.#max);
        if (b & 0x80) {
          if (this.#lenBytes === 4) throw new Error('malformed Remaining Length');
          continue;
        }
        this.#left = this.#len;
        this.#state = this.#left === 0 ? 'type' : 'body';
      } else {
        const n = Math.min(this.#left, chunk.length - i);
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'type';
      }
    }
  }
}

/** Wraps a socket (TCP, TLS, or a WebSocket stream) so aedes sees only packets within the limit. */
export class FrameLimitedConnection extends Duplex {
  readonly socket: Duplex;

  constructor(
    socket: Duplex,
    maxPacketBytes: number,
    onRefused?: (err: Error) => void,
    onHeader?: (firstByte: number, index: number) => void,
  ) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    const scanner = new FrameScanner(maxPacketBytes, onHeader);
    socket.on('data', (chunk: Buffer) => {
      try {
        scanner.scan(chunk);
      } catch (err) {
        onRefused?.(err as Error);
        socket.destroy();
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.socket.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
