/**
 * A replica of one notary (DESIGN §3.1, §3.5): a full copy of its chain in the replica's
 * own SQLite file, every height verified before it is stored, and every signed
 * checkpoint judged against that copy. Catch-up is by ranges over the notary's HTTP API
 * (/feed); live following is the MQTT chain feed and retained checkpoint when a broker
 * URL is given (push, low lag), else polling. HTTP stays the source of truth either way:
 * a feed item that is not the next height, a reconnect or a poll tick triggers a range
 * fetch, so nothing missed on MQTT is ever missed in the copy.
 *
 * Outcomes: REPLICA_SOURCE (notary unreachable or unreadable) → retried with exponential
 * backoff; REPLICA_VERIFY (a tampered entry, block or receipt) → nothing from that height
 * on is stored, state 'refused', retried with backoff; a fork → evidence stored and
 * written to a file, state 'forked', following stops.
 *
 * Events: 'synced' (size), 'retry' ({attempt, delayMs, error}), 'refused' (ReplicaError),
 * 'checkpoint' (AcceptedCheckpoint), 'fork' (ReplicaFork).
 */
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Role } from '../ca/identity.js';
import { validateCertificate } from '../ca/validate.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { leafHash } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import type { Logger } from '../ops/log.js';
import { CheckpointJudge, type LocalLog } from './replica-checkpoints.js';
import { ReplicaCode, ReplicaError, refused } from './replica-errors.js';
import { encodeForkFile, type ForkEvidence } from './replica-evidence.js';
import { decodeFeedItem, type FeedTls, ReplicaFeed } from './replica-feed.js';
import { ReplicaMetrics } from './replica-metrics.js';
import { completeCutShort } from './replica-repair.js';
import { type FeedItem, NotarySource } from './replica-source.js';
import { ReplicaStore, type StoredFork } from './replica-store.js';
import { ChainVerifier } from './replica-verify.js';
import { Trust } from './trust.js';

export interface ReplicaOptions {
  /** Base URL of the notary's HTTP API. */
  readonly notaryUrl: string;
  readonly dbPath: string;
  /** Trent's root (PEM or DER); required the first time, then pinned in the database. */
  readonly root?: string | Uint8Array | undefined;
  /** Trent's CRL (PEM or DER); newer ones also arrive on the MQTT CRL topic. */
  readonly crl?: string | Uint8Array | undefined;
  /** Pinned if given; else the database's, else learnt from the first checkpoint's certificate. */
  readonly notaryId?: string | undefined;
  readonly mqtt?:
    | { readonly url: string; readonly clientId: string; readonly tls?: FeedTls }
    | undefined;
  /** Catch-up interval when idle (default 2 s without MQTT, 30 s with). */
  readonly pollMs?: number | undefined;
  readonly backoff?: { readonly minMs: number; readonly maxMs: number } | undefined;
  /** Where fork evidence files go (default: the database's directory). */
  readonly evidenceDir?: string | undefined;
  readonly submitterRoles?: readonly Role[] | undefined;
  readonly skewMs?: number | undefined;
  readonly log?: Logger | undefined;
  readonly metrics?: ReplicaMetrics | undefined;
}

export type ReplicaState = 'syncing' | 'following' | 'retrying' | 'refused' | 'forked' | 'stopped';

export interface ReplicaFork extends StoredFork {
  readonly file: string;
}

const RANGE = 1000;

export class Replica extends EventEmitter {
  readonly store: ReplicaStore;
  readonly metrics: ReplicaMetrics;
  readonly source: NotarySource;
  readonly trust: Trust;
  readonly #o: ReplicaOptions;
  readonly #log: Logger | undefined;
  #state: ReplicaState = 'syncing';
  #notaryId: string | undefined;
  #verifier: ChainVerifier | undefined;
  #judge: CheckpointJudge | undefined;
  #feed: ReplicaFeed | undefined;
  #builder = new MerkleBuilder();
  readonly #certs = new Map<string, Uint8Array>();
  /** Checkpoints beyond the copy (or whose proof could not be fetched): judged again later. */
  readonly #pending = new Map<string, Uint8Array>();
  #tail: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #lastRefusal: ReplicaError | undefined;
  #stopping = false;
  /** Size last logged as verified (a line per change, not per poll). */
  #reported = -1;
  #stopWake: (() => void) | undefined;

  private constructor(o: ReplicaOptions, source: NotarySource, store: ReplicaStore, trust: Trust) {
    super();
    this.#o = o;
    this.#log = o.log;
    this.source = source;
    this.store = store;
    this.trust = trust;
    this.metrics = o.metrics ?? new ReplicaMetrics();
  }

  /**
   * Opens (or creates) the copy, checks it (the chain store re-verifies every stored
   * entry and log root on open) and starts following. A copy that already holds fork
   * evidence opens in state 'forked' and does not follow.
   */
  static async start(o: ReplicaOptions): Promise<Replica> {
    const source = new NotarySource(o.notaryUrl);
    const store = await ReplicaStore.open(o.dbPath);
    let replica: Replica;
    try {
      const stored = await store.chain.trustRoot();
      const root = o.root ?? stored;
      if (!root) {
        throw new ReplicaError(
          ReplicaCode.Config,
          `${o.dbPath} records no Trent root yet: give --root (Trent's root certificate)`,
        );
      }
      const trust = new Trust({ root, crl: o.crl, skewMs: o.skewMs });
      await store.chain.setRoot(new Uint8Array(trust.root.rawData)).catch((err: Error) => {
        throw new ReplicaError(ReplicaCode.Config, err.message);
      });
      replica = new Replica(o, source, store, trust);
      await replica.#open();
    } catch (err) {
      await store.close();
      throw err;
    }
    return replica;
  }

  get state(): ReplicaState {
    return this.#state;
  }

  get size(): number {
    return this.store.chain.size;
  }

  get notaryId(): string | undefined {
    return this.#notaryId;
  }

  /** The last REPLICA_VERIFY refusal (cleared when a later sync succeeds). */
  get lastRefusal(): ReplicaError | undefined {
    return this.#lastRefusal;
  }

  async #open(): Promise<void> {
    const { chain } = this.store;
    this.#builder = chain.logBuilder();
    for (const c of await chain.certificates()) this.#certs.set(toHex(c.kid), c.der);
    this.metrics.entries.set(chain.size);
    this.#notaryId = (await chain.notaryId()) ?? this.#o.notaryId;
    if (this.#o.notaryId && this.#notaryId !== this.#o.notaryId) {
      throw new ReplicaError(
        ReplicaCode.Config,
        `${this.#o.dbPath} replicates notary '${this.#notaryId}', not '${this.#o.notaryId}'`,
      );
    }
    if ((await this.store.forks()).length > 0) {
      this.#state = 'forked';
      this.metrics.forked.set(1);
      this.#log?.error({ db: this.#o.dbPath }, 'this copy holds fork evidence: not following');
      return;
    }
    this.#loop = this.#run();
  }

  #done(): boolean {
    return this.#state === 'forked' || this.#state === 'stopped';
  }

  /** Wakes the follower for a catch-up round now (a feed gap, a reconnect). */
  kick(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    const { minMs, maxMs } = this.#o.backoff ?? { minMs: 500, maxMs: 30_000 };
    while (!this.#done()) {
      let delay: number;
      try {
        await this.#exclusive(() => this.#syncOnce());
        if (this.#done()) break;
        attempt = 0;
        this.#lastRefusal = undefined;
        this.#state = 'following';
        if (this.size !== this.#reported) {
          this.#reported = this.size;
          this.#log?.info({ size: this.size, notaryId: this.#notaryId }, 'copy verified');
        }
        this.emit('synced', this.size);
        delay = this.#o.pollMs ?? (this.#o.mqtt ? 30_000 : 2000);
        await this.#sleep(delay, true);
        continue;
      } catch (err) {
        if (this.#done()) break;
        attempt += 1;
        delay = Math.min(maxMs, minMs * 2 ** (attempt - 1));
        this.#failed(err);
        this.emit('retry', { attempt, delayMs: delay, error: err });
      }
      await this.#sleep(delay, false);
    }
  }

  #failed(err: unknown): void {
    if (err instanceof ReplicaError && err.code === ReplicaCode.Verify) {
      this.#state = 'refused';
      this.#lastRefusal = err;
      this.metrics.refusals.inc({ check: err.check ?? 'format' });
      this.#log?.error(
        { code: err.code, height: err.height, check: err.check, err: err.message },
        'refused what the notary served',
      );
      this.emit('refused', err);
      return;
    }
    this.#state = 'retrying';
    if (err instanceof ReplicaError && err.code === ReplicaCode.Source) {
      this.metrics.sourceErrors.inc();
      this.#log?.warn({ err: err.message }, 'notary unreachable; retrying');
    } else {
      this.#log?.error({ err }, 'replica round failed; retrying');
    }
  }

  #sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#stopWake = wake;
      if (wakeable) this.#wake = wake;
    });
  }

  /** Runs fn after every earlier round, feed item and checkpoint: one writer at a time. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** An MQTT message's work, in turn; a failure is handled as a round's and answered by a catch-up. */
  #live(fn: () => Promise<void>): void {
    this.#exclusive(fn).catch((err: unknown) => {
      if (this.#done()) return;
      this.#failed(err);
      this.kick();
    });
  }

  /** Learns the notary id if needed, binds the copy to it, builds the verifiers, starts MQTT. */
  async #ready(): Promise<{ verifier: ChainVerifier; judge: CheckpointJudge }> {
    if (this.#verifier && this.#judge) return { verifier: this.#verifier, judge: this.#judge };
    const notaryId = this.#notaryId ?? (await this.#learnNotaryId());
    await this.store.bind(new Uint8Array(this.trust.root.rawData), notaryId);
    this.#notaryId = notaryId;
    const verifier = new ChainVerifier({
      notaryId,
      trust: this.trust,
      certificate: (kid) => this.#certificate(kid),
      ...(this.#o.submitterRoles ? { submitterRoles: this.#o.submitterRoles } : {}),
    });
    const judge = new CheckpointJudge({
      notaryId,
      verifier,
      consistency: (from, to) => this.source.consistency(from, to),
    });
    for (const c of await this.store.chain.checkpoints()) judge.remember(c.checkpoint);
    this.#verifier = verifier;
    this.#judge = judge;
    const m = this.#o.mqtt;
    if (m) {
      this.#feed = new ReplicaFeed({
        url: m.url,
        notaryId,
        clientId: m.clientId,
        tls: m.tls,
        onItem: (p) => this.#live(() => this.#onFeedItem(p)),
        onCheckpoint: (c) => this.#live(() => this.#onCheckpoint(c, 'mqtt')),
        onCrl: (crl) => void this.#onCrl(crl),
        onConnect: () => this.kick(),
        log: this.#log,
      });
    }
    this.#log?.info({ notaryId, size: this.size, mqtt: m?.url }, 'replica following');
    return { verifier, judge };
  }

  /** The id in the notary certificate of its latest checkpoint (validated under the root). */
  async #learnNotaryId(): Promise<string> {
    const cp = await this.source.checkpoint();
    const m = cp ? decodeSign1(cp) : undefined;
    const kid = m?.ok ? m.msg.kid : undefined;
    const der = kid ? await this.#certificate(kid) : undefined;
    if (!der) {
      throw new ReplicaError(
        ReplicaCode.Source,
        'the notary shows no checkpoint to learn its id from yet',
      );
    }
    const v = await validateCertificate(der, {
      root: this.trust.root,
      role: 'notary',
      at: new Date(),
      skewMs: this.trust.skewMs,
    });
    if (!v.ok)
      throw refused('checkpoint', 0, `the checkpoint's certificate: ${v.reason}: ${v.detail}`);
    return v.id;
  }

  async #certificate(kid: Uint8Array): Promise<Uint8Array | undefined> {
    const k = toHex(kid);
    const hit = this.#certs.get(k);
    if (hit) return hit;
    const der = await this.source.certificate(kid);
    // The notary could serve anything: keep it only if it is the certificate the kid names.
    if (!der || toHex(kidOfCertificate(der)) !== k) return undefined;
    this.#certs.set(k, der);
    return der;
  }

  #tip() {
    const chain = this.store.chain;
    return {
      size: chain.size,
      head: chain.head,
      builder: MerkleBuilder.fromState(this.#builder.state()),
      gateway: (id: string) => chain.gateway(id),
    };
  }

  /** Verifies and stores a run of items; stores the verified prefix even when one fails. */
  async #apply(items: readonly FeedItem[], verifier: ChainVerifier): Promise<number> {
    const { verified, error } = await verifier.verifyRun(items, this.#tip());
    await this.store.append(verified, Date.now());
    for (const v of verified) this.#builder.append(leafHash(v.entryHash));
    this.metrics.followed.inc(verified.length);
    this.metrics.entries.set(this.size);
    if (error) throw error;
    return verified.length;
  }

  async #syncOnce(): Promise<void> {
    if (this.#done()) return;
    const { verifier } = await this.#ready();
    await completeCutShort(this.store, this.source, verifier);
    for (;;) {
      const from = this.size + 1;
      const { size, items } = await this.source.feed(from, from + RANGE - 1);
      this.metrics.lag.set(Math.max(0, size - this.size));
      if (size < this.size) {
        this.#log?.warn(
          { notary: size, copy: this.size },
          'the notary serves a shorter chain than this copy',
        );
      }
      const n = await this.#apply(items, verifier);
      this.metrics.lag.set(Math.max(0, size - this.size));
      if (n === 0 || this.size >= size) break;
    }
    const cp = await this.source.checkpoint();
    if (cp) await this.#onCheckpoint(cp, 'http');
    for (const [k, c] of this.#pending) {
      if (this.#done()) return;
      this.#pending.delete(k);
      await this.#onCheckpoint(c, 'pending');
    }
  }

  async #onFeedItem(payload: Uint8Array): Promise<void> {
    if (this.#done() || !this.#verifier) return;
    const item = decodeFeedItem(payload);
    if (!item) {
      this.metrics.refusals.inc({ check: 'format' });
      this.#log?.warn(
        { bytes: payload.length },
        'unreadable chain feed item; catching up over HTTP',
      );
      this.kick();
      return;
    }
    if (item.height <= this.size) return;
    if (item.height > this.size + 1) return this.kick();
    // On failure (#live) the HTTP round decides and backs off: the item may have been altered in transit.
    await this.#apply([item], this.#verifier);
    this.emit('synced', this.size);
  }

  async #onCheckpoint(bytes: Uint8Array, from: 'mqtt' | 'http' | 'pending'): Promise<void> {
    const judge = this.#judge;
    if (!judge || this.#done()) return;
    const chain = this.store.chain;
    const log: LocalLog = {
      size: chain.size,
      headAt: (s) => chain.headAt(s),
      rootAt: (s) => chain.rootAt(s),
      consistencyProof: (a, b) => chain.consistencyProof(a, b),
      receipt: (h) => chain.receipt(h),
    };
    let verdict: Awaited<ReturnType<CheckpointJudge['judge']>>;
    try {
      verdict = await judge.judge(bytes, log);
    } catch (err) {
      if (err instanceof ReplicaError && err.code === ReplicaCode.Source) {
        this.#pending.set(toHex(bytes), bytes);
        throw err;
      }
      if (err instanceof ReplicaError && err.code === ReplicaCode.Verify) {
        this.metrics.refusals.inc({ check: 'checkpoint' });
        this.#log?.warn({ from, err: err.message }, 'checkpoint refused');
        this.emit('refused', err);
        return;
      }
      throw err;
    }
    this.metrics.checkpoints.inc({ verdict: verdict.kind });
    if (verdict.kind === 'accepted') {
      const c = verdict.checkpoint;
      await chain.putCheckpoint(c.size, c.bytes, c.time);
      this.emit('checkpoint', c);
    } else if (verdict.kind === 'ahead') {
      this.#pending.set(toHex(bytes), bytes);
      if (from !== 'pending') this.kick();
    } else if (verdict.kind === 'fork') {
      await this.#fork(verdict.evidence, from);
    }
  }

  async #fork(ev: ForkEvidence, from: string): Promise<void> {
    const at = Date.now();
    const id = await this.store.recordFork(ev, at);
    const notaryId = this.#notaryId ?? '';
    const certificates: Uint8Array[] = [];
    for (const s of [ev.first.bytes, ev.second]) {
      const m = decodeSign1(s);
      const der = m.ok && m.msg.kid ? this.#certs.get(toHex(m.msg.kid)) : undefined;
      if (der && !certificates.includes(der)) certificates.push(der);
    }
    const file = join(
      this.#o.evidenceDir ?? dirname(this.#o.dbPath),
      `fork-${notaryId}-${id}.cbor`,
    );
    await writeFile(file, encodeForkFile({ ...ev, notaryId, certificates, detectedAt: at }));
    this.metrics.forks.inc();
    this.metrics.forked.set(1);
    this.#state = 'forked';
    this.#log?.error(
      { code: ReplicaCode.Fork, reason: ev.reason, size: ev.size, from, file, detail: ev.detail },
      'FORK: the notary signed two checkpoints that disagree; evidence kept, following stopped',
    );
    const fork: ReplicaFork = { ...ev, id, detectedAt: at, file };
    this.emit('fork', fork);
    void this.#feed?.stop();
    this.#stopWake?.();
  }

  async #onCrl(crl: Uint8Array): Promise<void> {
    const r = await this.trust.updateCrl(crl);
    this.#log?.info({ ...r }, 'CRL received over MQTT');
  }

  /** Accepts a checkpoint obtained elsewhere (another replica, a gateway's log): judged like the notary's. */
  offerCheckpoint(bytes: Uint8Array): Promise<void> {
    return this.#exclusive(() => this.#onCheckpoint(bytes, 'pending'));
  }

  /** Stops following and closes the copy; a forked replica stays in state 'forked'. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#state !== 'forked') this.#state = 'stopped';
    this.#stopWake?.();
    await this.#loop;
    await this.#feed?.stop();
    await this.#tail;
    await this.store.close();
  }
}
