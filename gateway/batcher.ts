/**
 * Decides when to seal: when N readings or B bytes are waiting, or T ms after the
 * first reading that is waiting, whichever comes first. Sealing itself is the
 * Sealer's; the batcher only counts and schedules. flush() seals everything waiting
 * (graceful shutdown).
 */
import type { Logger } from '../ops/log.js';
import type { Sealer } from './sealer.js';
import type { Spool } from './spool.js';

export interface BatchPolicy {
  /** N: seal when this many readings wait. */
  readonly maxReadings: number;
  /** B: seal when this many reading bytes wait. */
  readonly maxBytes: number;
  /** T: seal at most this long after the first waiting reading arrived. */
  readonly maxDelayMs: number;
}

export class Batcher {
  readonly #spool: Spool;
  readonly #sealer: Sealer;
  readonly #policy: BatchPolicy;
  readonly #log: Logger;
  #readings = 0;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #waiters: { limit: number; done: () => void }[] = [];
  /** Called after each block is stored (the uplink submits it). */
  onSealed: (seq: number) => void = () => {};
  /** Called once close() has sealed everything (the gateway ends its sealing thread). */
  onClosed: () => Promise<void> | void = () => {};

  constructor(spool: Spool, sealer: Sealer, policy: BatchPolicy, log: Logger) {
    this.#spool = spool;
    this.#sealer = sealer;
    this.#policy = policy;
    this.#log = log;
  }

  /**
   * Resolves once fewer than `limit` readings wait unsealed, or after `ms` at the
   * latest: intake waits on it so that sealing keeps up under overload, but a stalled
   * sealer (HSM down) only slows intake, never stops it. True if it had to wait.
   */
  caughtUp(limit: number, ms: number): Promise<boolean> {
    if (this.#readings < limit || this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        limit,
        done: () => {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((x) => x !== w);
          resolve(true);
        },
      };
      const timer = setTimeout(w.done, ms);
      this.#waiters.push(w);
    });
  }

  #release(): void {
    for (const w of this.#waiters) if (this.#closed || this.#readings < w.limit) w.done();
  }

  /** Picks up readings left unsealed by an earlier run. */
  async start(): Promise<void> {
    const u = await this.#spool.unsealedCount();
    this.added(u.readings, u.bytes);
  }

  /** Intake committed `readings` new readings of `bytes` bytes. */
  added(readings: number, bytes: number): void {
    if (this.#closed || readings === 0) return;
    this.#readings += readings;
    this.#bytes += bytes;
    if (this.#readings >= this.#policy.maxReadings || this.#bytes >= this.#policy.maxBytes) {
      this.#trigger(false);
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#trigger(true), this.#policy.maxDelayMs);
    }
  }

  #trigger(all: boolean): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain(all)
      .catch((err: unknown) => {
        this.#log.error({ err }, 'sealing stopped; retrying when readings arrive or at T');
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again && !this.#closed) {
          this.#again = false;
          this.#trigger(false);
        } else if (this.#readings > 0 && !this.#timer && !this.#closed) {
          this.#timer = setTimeout(() => this.#trigger(true), this.#policy.maxDelayMs);
        }
      });
  }

  /** Seals full blocks; with `all`, also the partial one left at the end. */
  async #drain(all: boolean): Promise<void> {
    for (;;) {
      const full =
        this.#readings >= this.#policy.maxReadings || this.#bytes >= this.#policy.maxBytes;
      if (this.#readings === 0 || (!full && !all)) return;
      const r = await this.#sealer.sealOnce();
      const u = await this.#spool.unsealedCount();
      this.#readings = u.readings;
      this.#bytes = u.bytes;
      this.#release();
      if (!r) return;
      this.onSealed(r.seq);
    }
  }

  /** Seals everything waiting now (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    const u = await this.#spool.unsealedCount();
    this.#readings = u.readings;
    this.#bytes = u.bytes;
    this.#trigger(true);
    while (this.#running) await this.#running;
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#release();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.onClosed();
  }
}
