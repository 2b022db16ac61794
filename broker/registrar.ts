/**
 * The registrar (DESIGN §2): verifies submitted blocks, places them in their gateway's
 * sequence, appends them as chain entries and answers with signed receipts.
 *
 * Submissions queue up; one loop takes everything queued (up to maxBatch) and runs it
 * as named steps:
 *   1. check      stateless verification of each block, in parallel (verify-submission.ts)
 *   2. sequence   in arrival order: seq = last + 1 and prev = h(last), else gap /
 *                 prev-link; a used seq is a replay (same h) or an equivocation (other h)
 *   3. commit     every accepted block in ONE SQLite transaction (entries + Merkle log +
 *                 blocks + gateway state)
 *   4. receipt    only after COMMIT: sign receipts on the token (all in flight at once),
 *                 store them (one transaction), then answer.
 * Never a receipt for an entry that is not durably committed. If the process dies
 * between 3 and 4, recover() at start signs the missing receipts, and a resubmitted
 * block takes the replay path, which answers with the stored (or newly signed) receipt.
 */
import { equalBytes } from '../core/bytes.js';
import { signReceipt } from '../core/receipt.js';
import type { Signer } from '../core/signer.js';
import { type Answer, RefusalReason } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { ChainStore, GatewayState, Registration, StoredEntry } from './chain-store.js';
import type { NotaryMetrics } from './metrics.js';
import { headersConflict } from './verify-evidence.js';
import { type CheckContext, checkSubmission } from './verify-submission.js';

const ZERO: Uint8Array = new Uint8Array(32);

export interface RegisteredEvent {
  readonly entry: StoredEntry;
  readonly registration: Registration;
  readonly receipt: Uint8Array;
}

export interface RegistrarOptions {
  readonly notaryId: string;
  readonly store: ChainStore;
  /** The notary's signer (token key), kid = its certificate's kid. */
  readonly signer: Signer;
  readonly check: CheckContext;
  /** Registrations per transaction at most (default 256). */
  readonly maxBatch?: number;
  /** Committed batches whose receipts are still being signed, at most (default 8). */
  readonly maxPendingBatches?: number;
  /** Submissions waiting at most; beyond, refused 'unavailable' (pushback; default 10 000). */
  readonly maxQueue?: number;
  readonly now?: () => number;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
  /** After a new entry's receipt is stored: chain feed, checkpointer. */
  readonly onRegistered?: (e: RegisteredEvent) => void;
}

interface Job {
  readonly submitter: string;
  readonly bytes: Uint8Array;
  readonly resolve: (a: Answer) => void;
}

type Outcome =
  | { kind: 'new'; reg: number }
  | { kind: 'replay'; height: number; seq: number }
  | { kind: 'refused'; reason: RefusalReason; detail: string; seq: number };

export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #queue: Job[] = [];
  #running: Promise<void> | undefined;
  readonly #finishing = new Set<Promise<void>>();
  #feedTail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: RegistrarOptions) {
    this.#o = opts;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves with the answer to send (never rejects). */
  submit(submitter: string, bytes: Uint8Array): Promise<Answer> {
    return new Promise((resolve) => {
      if (this.#closed || this.#queue.length >= (this.#o.maxQueue ?? 10_000)) {
        const why = this.#closed ? 'the notary is shutting down' : 'the notary is overloaded';
        resolve(this.#refusal(submitter, RefusalReason.Unavailable, `${why}; resend later`, 0));
        return;
      }
      this.#queue.push({ submitter, bytes, resolve });
      this.#o.metrics?.queue.set(this.#queue.length);
      this.#running ??= this.#drain().finally(() => {
        this.#running = undefined;
      });
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#o.maxBatch ?? 256);
      this.#o.metrics?.queue.set(this.#queue.length);
      try {
        await this.#process(batch);
      } catch (err) {
        this.#o.log?.error({ err }, 'registrar batch failed');
        for (const j of batch) {
          j.resolve(this.#refusal(j.submitter, RefusalReason.Unavailable, 'internal error', 0));
        }
      }
    }
  }

  async #process(batch: Job[]): Promise<void> {
    const { store } = this.#o;
    const at = (this.#o.now ?? Date.now)();
    const checked = await Promise.all(
      batch.map((j) => checkSubmission(this.#o.check, j.submitter, j.bytes, new Date(at))),
    );
    // 2. sequence
    const overlay = new Map<string, GatewayState>();
    const pending = new Map<string, number>();
    const regs: Registration[] = [];
    const outcomes: Outcome[] = [];
    const newCerts = new Map<string, { kid: Uint8Array; der: Uint8Array }>();
    for (let i = 0; i < batch.length; i++) {
      const c = checked[i]!;
      const gw = batch[i]!.submitter;
      if (!c.ok) {
        outcomes.push({ kind: 'refused', reason: c.reason, detail: c.detail, seq: c.seq });
        continue;
      }
      const seq = c.header.seq;
      const st = overlay.get(gw) ??
        store.gateway(gw) ?? { lastSeq: 0, lastHash: ZERO, lastHeight: 0 };
      const refuse = (reason: RefusalReason, detail: string) =>
        outcomes.push({ kind: 'refused', reason, detail, seq });
      if (seq <= st.lastSeq) {
        const inBatch = pending.get(`${gw}/${seq}`);
        if (inBatch !== undefined) {
          if (equalBytes(regs[inBatch]!.internal, c.internal)) {
            outcomes.push({ kind: 'new', reg: inBatch });
          } else {
            refuse(RefusalReason.Equivocation, `another block with seq ${seq} arrived just before`);
          }
          continue;
        }
        const stored = await store.blockBySeq(gw, seq);
        if (stored && equalBytes(stored.signedHeader, c.block.signedHeader)) {
          outcomes.push({ kind: 'replay', height: stored.height, seq });
        } else if (
          stored &&
          !headersConflict(gw, seq, stored.signedHeader, c.block.signedHeader).ok
        ) {
          // The same header signed again (new ECDSA signature): no second statement, no evidence.
          refuse(
            RefusalReason.Equivocation,
            `seq ${seq} is registered with another signature of the same header`,
          );
        } else if (stored) {
          await store.recordEquivocation(gw, seq, stored, c.block.signedHeader, at);
          this.#o.log?.warn(
            { gateway: gw, seq, height: stored.height },
            'equivocation: a different signed block for a registered seq; both headers kept',
          );
          refuse(
            RefusalReason.Equivocation,
            `seq ${seq} is registered at height ${stored.height} with another block; both signed headers are kept as evidence`,
          );
        } else {
          refuse(RefusalReason.Gap, `seq ${seq} is not registered and not next`);
        }
        continue;
      }
      if (seq > st.lastSeq + 1) {
        refuse(RefusalReason.Gap, `seq ${seq} follows ${st.lastSeq}: blocks are missing`);
        continue;
      }
      if (!equalBytes(c.header.prev, st.lastHash)) {
        refuse(RefusalReason.PrevLink, `prev is not h of ${gw}'s block ${st.lastSeq}`);
        continue;
      }
      overlay.set(gw, { lastSeq: seq, lastHash: c.internal, lastHeight: 0 });
      pending.set(`${gw}/${seq}`, regs.length);
      outcomes.push({ kind: 'new', reg: regs.length });
      regs.push({
        gateway: gw,
        seq,
        kid: c.kid,
        signedHeader: c.block.signedHeader,
        bodyHash: c.header.bodyHash,
        body: c.block.body,
        internal: c.internal,
      });
      newCerts.set(Buffer.from(c.kid).toString('hex'), { kid: c.kid, der: c.certDer });
    }
    // 3. commit
    let entries: StoredEntry[] = [];
    let commitError: unknown;
    try {
      for (const { kid, der } of newCerts.values()) await store.putCertificate(kid, der, at);
      entries = await store.append(regs, at);
      this.#o.metrics?.batchSize.observe(regs.length);
    } catch (err) {
      commitError = err;
      this.#o.log?.error(
        { err, blocks: regs.length },
        'commit failed: no block of the batch registered',
      );
    }
    // 4. receipts, only for committed entries: pipelined, so the next batch is checked
    // and committed while this one's signatures are on the token (bounded).
    const finish = this.#finish(batch, outcomes, regs, entries, commitError).catch((err) => {
      this.#o.log?.error({ err }, 'answering a batch failed');
      return [] as RegisteredEvent[];
    });
    // Batches may finish out of order; the feed is chained in batch (= height) order.
    this.#feedTail = this.#feedTail
      .then(() => finish)
      .then((events) => {
        for (const ev of events) this.#o.onRegistered?.(ev);
      })
      .catch((err) => this.#o.log?.error({ err }, 'chain feed failed'));
    const done = finish.then(() => undefined);
    this.#finishing.add(done);
    void done.finally(() => this.#finishing.delete(done));
    while (this.#finishing.size >= (this.#o.maxPendingBatches ?? 8)) {
      await Promise.race(this.#finishing);
    }
  }

  async #finish(
    batch: Job[],
    outcomes: Outcome[],
    regs: Registration[],
    entries: StoredEntry[],
    commitError: unknown,
  ): Promise<RegisteredEvent[]> {
    const { store } = this.#o;
    const heights = new Set<number>();
    for (const o of outcomes) {
      if (o.kind === 'replay') heights.add(o.height);
      if (o.kind === 'new' && commitError === undefined) heights.add(entries[o.reg]!.height);
    }
    const receipts = await this.#receipts([...heights], entries);
    for (let i = 0; i < batch.length; i++) {
      const o = outcomes[i]!;
      const j = batch[i]!;
      if (o.kind === 'refused') {
        j.resolve(this.#refusal(j.submitter, o.reason, o.detail, o.seq));
        continue;
      }
      const seq = o.kind === 'replay' ? o.seq : regs[o.reg]!.seq;
      const height = o.kind === 'replay' ? o.height : entries[o.reg]?.height;
      const receipt = height === undefined ? undefined : receipts.get(height);
      if (!receipt) {
        j.resolve(
          this.#refusal(j.submitter, RefusalReason.Unavailable, 'not registered now; resend', seq),
        );
        continue;
      }
      if (o.kind === 'replay') this.#o.metrics?.replays.inc();
      j.resolve({ kind: 'registered', seq, receipt });
    }
    if (commitError === undefined) {
      this.#o.metrics?.registered.inc(entries.length);
      this.#o.metrics?.entries.set(store.size);
      const events: RegisteredEvent[] = [];
      entries.forEach((e, i) => {
        const receipt = receipts.get(e.height);
        if (receipt) events.push({ entry: e, registration: regs[i]!, receipt });
      });
      return events;
    }
    return [];
  }

  /** Stored receipts for these heights; the missing ones signed (in parallel) and stored. */
  async #receipts(heights: number[], fresh: StoredEntry[]): Promise<Map<number, Uint8Array>> {
    const { store, signer, notaryId } = this.#o;
    const out = new Map<number, Uint8Array>();
    const byHeight = new Map(fresh.map((e) => [e.height, e]));
    const missing: number[] = [];
    for (const h of heights) {
      const r = byHeight.has(h) ? undefined : await store.receipt(h);
      if (r) out.set(h, r);
      else missing.push(h);
    }
    const signed = await Promise.all(
      missing.map(async (h) => {
        const e = byHeight.get(h) ?? (await store.entry(h));
        if (!e) return undefined;
        const t0 = performance.now();
        try {
          const receipt = await signReceipt(signer, notaryId, e.entryBytes, e.logRoot);
          this.#o.metrics?.signSeconds.observe((performance.now() - t0) / 1000);
          return { height: h, receipt };
        } catch (err) {
          this.#o.log?.error(
            { err, height: h },
            'signing a receipt failed; it will be signed on resubmission or restart',
          );
          return undefined;
        }
      }),
    );
    const ok = signed.filter((s): s is { height: number; receipt: Uint8Array } => s !== undefined);
    if (ok.length > 0) {
      try {
        const stored = await store.putReceipts(ok, (this.#o.now ?? Date.now)());
        ok.forEach((s, i) => {
          out.set(s.height, stored[i]!);
        });
      } catch (err) {
        this.#o.log?.error({ err }, 'storing receipts failed; none published');
      }
    }
    return out;
  }

  /** Signs and stores receipts for committed entries that have none (after a crash). */
  async recover(): Promise<number> {
    const missing = await this.#o.store.unreceipted();
    if (missing.length === 0) return 0;
    const got = await this.#receipts(missing, []);
    this.#o.log?.info({ heights: missing.length, signed: got.size }, 'receipts recovered');
    return got.size;
  }

  #refusal(submitter: string, reason: RefusalReason, detail: string, seq: number): Answer {
    this.#o.metrics?.refusals.inc({ reason });
    this.#o.log?.info({ submitter, reason, detail, seq }, 'block refused');
    const expectedSeq = (this.#o.store.gateway(submitter)?.lastSeq ?? 0) + 1;
    return { kind: 'refused', seq, reason, detail, expectedSeq };
  }

  /** Refuses new submissions and waits for the running batch. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
    await Promise.all(this.#finishing);
    await this.#feedTail;
  }
}
