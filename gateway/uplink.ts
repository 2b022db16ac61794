/**
 * Store-and-forward to the notary (DESIGN §5): one mqtt.js connection, persistent
 * session (clean=false, fixed client id), QoS 1. Sealed blocks go out in seq order,
 * at most `window` unanswered at a time; answers come back on the receipt topic.
 *
 * - registered: the receipt is checked (receipt-check.ts) and stored; the block is done.
 * - refused 'gap': the notary wants expectedSeq next: resend from there.
 * - any other refusal, a receipt that fails its checks, no answer in answerTimeoutMs,
 *   a reconnect or a restart: resend from the oldest block without a receipt (after
 *   retryMs). Nothing is ever marked done without a verified receipt.
 */

import type { PeerCertificate } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { tlsPeerIdentity } from '../ca/tls-peer.js';
import { toHex } from '../core/bytes.js';
import { decodeAnswer, topics } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { GatewayMetrics } from './metrics.js';
import type { NotaryTrust } from './notary-trust.js';
import { checkReceipt } from './receipt-check.js';
import type { Spool } from './spool.js';

export interface UplinkOptions {
  /** mqtt://host:port (loopback tests) or mqtts://host:port. */
  url: string;
  /** TLS client certificate, key and CA (PEM), for mqtts. */
  tls?: { cert: string; key: string; ca: string; servername?: string } | undefined;
  clientId: string;
  gatewayId: string;
  notaryId: string;
  notary: NotaryTrust;
  spool: Spool;
  metrics: GatewayMetrics;
  log: Logger;
  /** Most blocks submitted and not yet answered (default 16). */
  window?: number | undefined;
  /** Pause before a resend after a refusal or a bad receipt (default 2000 ms). */
  retryMs?: number | undefined;
  /** Resend from the oldest unreceipted block when no answer came in this time (default 30 s). */
  answerTimeoutMs?: number | undefined;
  reconnectMs?: number | undefined;
}

export interface UplinkStatus {
  readonly connected: boolean;
  /** How long the notary has been unreachable (0 while connected). */
  readonly downForMs: number;
  /** Blocks submitted and not answered yet (at most `window`). */
  readonly inflight: number;
  readonly unreceiptedBlocks: number;
  /** Age of the oldest sealed block still without a receipt (0: none). */
  readonly oldestUnreceiptedAgeMs: number;
}

export class Uplink {
  readonly #o: UplinkOptions;
  readonly #client: MqttClient;
  /** Next seq to submit. */
  #next = 1;
  /** After a 'gap' below our receipts: blocks below this are resent even if receipted. */
  #resendBelow = 0;
  #lastGap = 0;
  #gapFrom = 1;
  readonly #inflight = new Set<number>();
  #pumping: Promise<void> | undefined;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #answerTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** When the notary was last lost (or since start, before the first CONNACK); undefined while connected. */
  #downSince: number | undefined = Date.now();
  /** Called after each receipt is stored (tests, shutdown). */
  onReceipt: (seq: number) => void = () => {};

  constructor(o: UplinkOptions) {
    this.#o = o;
    const opts: IClientOptions = {
      protocolVersion: 4,
      clientId: o.clientId,
      clean: false,
      reconnectPeriod: o.reconnectMs ?? 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      resubscribe: true,
      ...(o.tls
        ? {
            cert: o.tls.cert,
            key: o.tls.key,
            ca: o.tls.ca,
            rejectUnauthorized: true,
            ...(o.tls.servername ? { servername: o.tls.servername } : {}),
            // The chain to Trent is checked by TLS (ca); who the peer is comes from its
            // certificate's medchain identity, not from a DNS name or IP.
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              tlsPeerIdentity(cert, 'notary', o.notaryId),
          }
        : {}),
    };
    this.#client = mqtt.connect(o.url, opts);
    this.#client.on('connect', () => this.#onConnect());
    this.#client.on('close', () => {
      o.metrics.uplinkConnected.set(0);
      this.#downSince ??= Date.now();
      this.#inflight.clear();
    });
    this.#client.on('error', (err) => o.log.warn({ err: err.message }, 'uplink error'));
    this.#client.on('message', (topic, payload) => {
      this.#onAnswer(topic, payload).catch((err: unknown) =>
        o.log.error({ err }, 'uplink: handling an answer failed'),
      );
    });
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /**
   * What readiness and the gauges report: the link, how long it has been down, and the
   * backlog of sealed blocks without a receipt (counted in SQLite, not held here).
   */
  async status(now = Date.now()): Promise<UplinkStatus> {
    const b = await this.#o.spool.unreceiptedSummary();
    const downForMs = this.#downSince === undefined ? 0 : Math.max(0, now - this.#downSince);
    const oldestAgeMs = b.oldestSealedAt === undefined ? 0 : Math.max(0, now - b.oldestSealedAt);
    const m = this.#o.metrics;
    m.unreceipted.set(b.blocks);
    m.uplinkDownSeconds.set(downForMs / 1000);
    m.oldestUnreceiptedSeconds.set(oldestAgeMs / 1000);
    return {
      connected: this.#client.connected,
      downForMs,
      inflight: this.#inflight.size,
      unreceiptedBlocks: b.blocks,
      oldestUnreceiptedAgeMs: oldestAgeMs,
    };
  }

  #onConnect(): void {
    const o = this.#o;
    if (this.#downSince !== undefined) {
      o.log.info({ downForMs: Date.now() - this.#downSince }, 'uplink: notary reachable again');
    }
    this.#downSince = undefined;
    o.metrics.uplinkConnected.set(1);
    o.log.info({ url: o.url }, 'uplink connected');
    this.#client.subscribe(topics.receipt(o.notaryId, o.gatewayId), { qos: 1 }, (err) => {
      // A stop that cuts the SUBACK short is no failure (each connect subscribes again).
      if (err && !this.#closed) {
        o.log.error({ err: err.message }, 'uplink: subscribe to receipts failed');
      }
    });
    this.#resendBelow = 0;
    this.#restart(0);
  }

  /** A block was sealed: submit it when the window allows. */
  kick(): void {
    this.#pump();
  }

  /** Resend from the oldest block without a receipt, after `delayMs`. */
  #restart(delayMs: number): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#inflight.clear();
      if (this.#answerTimer) clearTimeout(this.#answerTimer);
      this.#answerTimer = undefined;
      this.#next = this.#resendBelow > 0 ? this.#gapFrom : 1;
      this.#pump();
    }, delayMs);
  }

  #pump(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#submitWindow()
      .catch((err: unknown) => this.#o.log.error({ err }, 'uplink: submitting failed'))
      .finally(() => {
        this.#pumping = undefined;
        if (this.#again) {
          this.#again = false;
          this.#pump();
        }
      });
  }

  async #submitWindow(): Promise<void> {
    const o = this.#o;
    if (!this.#client.connected) return;
    const room = (o.window ?? 16) - this.#inflight.size;
    if (room <= 0) return;
    // One page of at most `window` blocks from SQLite: a backlog of any length stays on
    // disk. Without a pending 'gap' only unreceipted blocks qualify (partial index).
    const blocks =
      this.#resendBelow > 0
        ? await o.spool.toSubmit(this.#next, this.#resendBelow, room)
        : await o.spool.unreceipted(this.#next, room);
    for (const b of blocks) {
      if (!this.#client.connected) return;
      if (b.erased) {
        // Only a receipted block can be erased, so only a notary that lost it asks
        // again ('gap'); we cannot supply the body. Keep asking the operator, slowly.
        o.log.error(
          { seq: b.seq },
          'uplink: the notary wants a block whose body this gateway erased; restore the notary from its own copy',
        );
        this.#restart(o.retryMs ?? 2000);
        return;
      }
      this.#inflight.add(b.seq);
      this.#next = b.seq + 1;
      o.metrics.submitted.inc();
      this.#client.publish(
        topics.submit(o.notaryId, o.gatewayId),
        Buffer.from(b.bytes),
        { qos: 1 },
        (err) => {
          if (err) o.log.warn({ seq: b.seq, err: err.message }, 'uplink: publish not acknowledged');
        },
      );
    }
    if (this.#inflight.size > 0) this.#armAnswerTimer();
  }

  /** Measures time without progress: armed at a submit, restarted by each receipt only. */
  #armAnswerTimer(): void {
    if (this.#answerTimer) return;
    this.#answerTimer = setTimeout(() => {
      this.#answerTimer = undefined;
      if (this.#inflight.size > 0) {
        this.#o.log.warn({ inflight: [...this.#inflight] }, 'uplink: no answer; resending');
        this.#restart(0);
      }
    }, this.#o.answerTimeoutMs ?? 30_000);
  }

  async #onAnswer(topic: string, payload: Uint8Array): Promise<void> {
    const o = this.#o;
    if (topic !== topics.receipt(o.notaryId, o.gatewayId)) return;
    const a = decodeAnswer(payload);
    if (!a.ok) {
      o.metrics.receiptsRejected.inc({ check: 'answer' });
      o.log.warn({ detail: a.detail }, 'uplink: malformed answer from the notary');
      return;
    }
    const ans = a.value;
    if (ans.kind === 'refused') {
      o.metrics.refusals.inc({ reason: ans.reason });
      o.log.warn(
        { seq: ans.seq, reason: ans.reason, detail: ans.detail, expectedSeq: ans.expectedSeq },
        'notary refused a block',
      );
      if (ans.reason === 'gap') {
        // The notary wants expectedSeq next (it may have lost blocks we hold receipts
        // for, e.g. restored from a backup: those are resent too). The same gap twice
        // in a row waits retryMs, so a confused notary does not get a tight loop.
        const head = await o.spool.head();
        this.#resendBelow = head.seq + 1;
        this.#gapFrom = ans.expectedSeq;
        const repeat = this.#lastGap === ans.expectedSeq;
        this.#lastGap = ans.expectedSeq;
        this.#restart(repeat ? (o.retryMs ?? 2000) : 0);
      } else {
        this.#restart(o.retryMs ?? 2000);
      }
      return;
    }
    if (this.#resendBelow > 0 && ans.seq >= this.#resendBelow - 1) this.#resendBelow = 0;
    const block = await o.spool.block(ans.seq);
    if (!block) {
      o.metrics.receiptsRejected.inc({ check: 'unknown-block' });
      o.log.warn({ seq: ans.seq }, 'uplink: receipt for a block we never sealed');
      return;
    }
    if (block.receipt) {
      this.#inflight.delete(ans.seq);
      this.#pump();
      return; // already done (a resend answered twice); the first receipt is kept
    }
    const c = checkReceipt(ans.receipt, {
      notaryKey: o.notary.key,
      notaryKid: o.notary.kid,
      notaryId: o.notaryId,
      gatewayId: o.gatewayId,
      blockHash: block.hash,
    });
    if (!c.ok) {
      o.metrics.receiptsRejected.inc({ check: c.check });
      o.log.error(
        { seq: ans.seq, check: c.check, detail: c.detail, expected: c.expected, actual: c.actual },
        'uplink: receipt refused; the block stays unreceipted and is resent',
      );
      this.#restart(o.retryMs ?? 2000);
      return;
    }
    const first = await o.spool.storeReceipt(ans.seq, ans.receipt, Date.now());
    this.#inflight.delete(ans.seq);
    if (!first) {
      // Two answers for one block (a resend after a reconnect) were checked at once;
      // the one stored first counts.
      this.#pump();
      return;
    }
    o.metrics.receipts.inc();
    o.log.info(
      { seq: ans.seq, height: c.receipt.entry.height, entry: toHex(c.receipt.entryHash) },
      'receipt stored',
    );
    this.onReceipt(ans.seq);
    // Progress: the no-answer clock starts again (or stops when nothing is in flight).
    if (this.#answerTimer) clearTimeout(this.#answerTimer);
    this.#answerTimer = undefined;
    if (this.#inflight.size > 0) this.#armAnswerTimer();
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#answerTimer) clearTimeout(this.#answerTimer);
    while (this.#pumping) await this.#pumping;
    // Forced: an unacknowledged submit is resent by the next start anyway, and a
    // graceful end would wait forever for a notary that is not there.
    await this.#client.endAsync(true);
    this.#o.metrics.uplinkConnected.set(0);
  }
}
