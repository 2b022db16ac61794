/**
 * Group commit: readings from every device connection queue here; one transaction
 * stores everything queued while the previous one ran, and each reading's promise
 * settles only after that COMMIT. The device broker sends the PUBACK when it settles.
 *
 * Pushback (STYLE §6): above the configured backlog (readings or bytes not yet
 * receipted, queued ones included) submit() rejects with GATEWAY_PUSHBACK before
 * anything is stored. MQTT 3.1.1 has no negative PUBACK: the broker closes the
 * connection without one, the device keeps the message (QoS 1) and resends it.
 */
import { GatewayCode, GatewayError } from './errors.js';
import type { InsertResult, Spool, SpoolReading } from './spool.js';

export interface IntakeLimits {
  /** Most readings in one transaction (default 1000). */
  readonly maxBatch?: number;
  /** Backlog (readings not yet receipted) above which new readings are refused. */
  readonly maxBacklogReadings: number;
  readonly maxBacklogBytes: number;
}

interface Waiting {
  reading: SpoolReading;
  resolve: (r: InsertResult) => void;
  reject: (e: unknown) => void;
}

export class Intake {
  readonly #spool: Spool;
  readonly #limits: Required<IntakeLimits>;
  #queue: Waiting[] = [];
  #queuedBytes = 0;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Called after each commit with the number of readings stored (for the batcher). */
  onCommit: (stored: number, bytes: number) => void = () => {};
  /** The last spool commit's failure (disk full, I/O), until a commit succeeds again. */
  writeFailure: { code: string; at: number } | undefined;
  /**
   * Awaited before each transaction: the gateway lets the sealer catch up here
   * (Batcher.caughtUp), so that under overload PUBACKs slow down (devices hold their
   * readings, QoS 1) instead of an unsealed backlog growing without receipts.
   */
  beforeCommit: () => Promise<unknown> = () => Promise.resolve();

  constructor(spool: Spool, limits: IntakeLimits) {
    this.#spool = spool;
    this.#limits = { maxBatch: 1000, ...limits };
  }

  /** True while new readings are refused. */
  get overloaded(): boolean {
    const b = this.#spool.backlog();
    return (
      b.readings + this.#queue.length >= this.#limits.maxBacklogReadings ||
      b.bytes + this.#queuedBytes >= this.#limits.maxBacklogBytes
    );
  }

  submit(reading: SpoolReading): Promise<InsertResult> {
    if (this.#closed) {
      return Promise.reject(new GatewayError(GatewayCode.Closed, 'the gateway is shutting down'));
    }
    if (this.overloaded) {
      const b = this.#spool.backlog();
      return Promise.reject(
        new GatewayError(
          GatewayCode.Pushback,
          `spool backlog ${b.readings} readings / ${b.bytes} bytes is at its limit`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ reading, resolve, reject });
      this.#queuedBytes += reading.bytes.length;
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = this.#commitLoop().finally(() => {
      this.#running = undefined;
      this.#kick(); // a reading queued between the loop's last check and here
    });
  }

  async #commitLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      // One turn of the event loop before taking the batch: connections whose PUBACK
      // the previous commit released hand over their next reading (mqtt.js and aedes
      // read a connection's next packet only after the PUBACK is written), so it joins
      // this transaction instead of waiting for the one after.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.beforeCommit();
      const batch = this.#queue.splice(0, this.#limits.maxBatch);
      // Readings of one device in seq order within the transaction, whatever order
      // several connections (a shared subscription) delivered them in: the gap count
      // then sees no false holes inside one batch.
      batch.sort(
        (a, b) =>
          (a.reading.deviceId < b.reading.deviceId
            ? -1
            : a.reading.deviceId > b.reading.deviceId
              ? 1
              : 0) || a.reading.seq - b.reading.seq,
      );
      for (const w of batch) this.#queuedBytes -= w.reading.bytes.length;
      try {
        const results = await this.#spool.insertBatch(batch.map((w) => w.reading));
        let stored = 0;
        let bytes = 0;
        batch.forEach((w, i) => {
          const r = results[i]!;
          if (r.outcome === 'stored') {
            stored++;
            bytes += w.reading.bytes.length;
          }
          w.resolve(r);
        });
        this.writeFailure = undefined;
        if (stored > 0) this.onCommit(stored, bytes);
      } catch (err) {
        this.writeFailure = {
          code: (err as { code?: string }).code ?? 'unknown',
          at: Date.now(),
        };
        // Nothing of this batch was committed: no PUBACK for any of them.
        for (const w of batch) w.reject(err);
      }
    }
  }

  /** Refuses new readings and waits for the queued ones to commit. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
  }
}
