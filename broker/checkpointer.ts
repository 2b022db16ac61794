/**
 * Signed checkpoints (core/receipt.ts signCheckpoint): one once `everyEntries` new
 * entries have accumulated, or at the `everyMs` tick, but only if the log grew since
 * the last one. An idle log gets no new signature (nothing new to attest, and no
 * stream of identical statements on the token); its last checkpoint stays the one
 * published retained on the checkpoint topic and served by the HTTP API. A notary with
 * no checkpoint yet signs one at start, of size 0 on an empty chain. Stored
 * (append-only) before it is published.
 */
import { signCheckpoint } from '../core/receipt.js';
import type { Signer } from '../core/signer.js';
import type { Logger } from '../ops/log.js';
import type { ChainStore } from './chain-store.js';
import type { NotaryMetrics } from './metrics.js';

export interface CheckpointerOptions {
  readonly notaryId: string;
  readonly store: ChainStore;
  readonly signer: Signer;
  readonly everyEntries: number;
  readonly everyMs: number;
  readonly publish: (signed: Uint8Array) => void;
  readonly now?: () => number;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
}

export class Checkpointer {
  readonly #o: CheckpointerOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastSize = -1;
  #running: Promise<Uint8Array | undefined> | undefined;
  #latest: Uint8Array | undefined;

  constructor(o: CheckpointerOptions) {
    this.#o = o;
  }

  get latest(): Uint8Array | undefined {
    return this.#latest;
  }

  async start(): Promise<void> {
    const last = await this.#o.store.latestCheckpoint();
    if (last) {
      this.#latest = last.checkpoint;
      this.#lastSize = last.size;
      if (this.#o.metrics) this.#o.metrics.lastCheckpointAt = last.at;
      this.#o.publish(last.checkpoint);
    }
    await this.checkpoint();
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.checkpoint().finally(() => {
        if (this.#timer) this.#schedule();
      });
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  /** Called after each registration batch: checkpoints once K entries accumulated. */
  entriesAdded(): void {
    if (this.#o.store.size - Math.max(this.#lastSize, 0) >= this.#o.everyEntries) {
      void this.checkpoint();
    }
  }

  /**
   * Signs, stores and publishes a checkpoint of the current size (one at a time) if the
   * log grew since the last one; otherwise returns the last one unchanged.
   */
  checkpoint(): Promise<Uint8Array | undefined> {
    this.#running ??= this.#sign().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sign(): Promise<Uint8Array | undefined> {
    const { store } = this.#o;
    const { size, head, root } = store.snapshot();
    if (size === this.#lastSize) {
      this.#o.log?.debug({ size }, 'log idle since the last checkpoint: kept, not re-signed');
      return this.#latest;
    }
    const time = (this.#o.now ?? Date.now)();
    try {
      const t0 = performance.now();
      const signed = await signCheckpoint(this.#o.signer, {
        notaryId: this.#o.notaryId,
        size,
        head,
        logRoot: root,
        time,
      });
      this.#o.metrics?.signSeconds.observe((performance.now() - t0) / 1000);
      await store.putCheckpoint(size, signed, time);
      this.#lastSize = size;
      this.#latest = signed;
      if (this.#o.metrics) this.#o.metrics.lastCheckpointAt = time;
      this.#o.publish(signed);
      return signed;
    } catch (err) {
      this.#o.log?.error({ err, size }, 'checkpoint failed; retried at the next interval');
      return undefined;
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
