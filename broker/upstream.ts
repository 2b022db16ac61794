/**
 * Anchoring into an upstream (regional) notary (DESIGN §2, hierarchy): every `everyMs`
 * this notary seals its latest checkpoint as an internal block of its own sequence and
 * submits it with the ordinary protocol (role notary). The regional notary is the same
 * program with submitRoles ["notary"].
 *
 *   anchor block header = core block header {gatewayId: this notaryId, seq, prev, bodyHash,
 *                         root = MTH([leaf(checkpoint)]), count 1, sealedAt}
 *   anchor block body   = the signed checkpoint bytes (public, not encrypted)
 *
 * The block is stored in `anchors` BEFORE it is sent; until its receipt arrives it is
 * resent (same bytes) at each tick and on every reconnect, so an outage only delays
 * anchoring. A new anchor is made only once the previous one has its receipt.
 */
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PeerCertificate } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { tlsPeerIdentity } from '../ca/tls-peer.js';
import {
  bodyHash,
  decodeBlock,
  encodeBlock,
  encodeBlockHeader,
  internalHash,
  ZERO_HASH,
} from '../core/block.js';
import { sign1 } from '../core/cose.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { leafHash, merkleRoot } from '../core/merkle.js';
import { decodeCheckpointPayload, verifyReceipt } from '../core/receipt.js';
import type { Signer } from '../core/signer.js';
import { decodeAnswer, topics } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { ChainStore } from './chain-store.js';
import type { Checkpointer } from './checkpointer.js';
import type { NotaryMetrics } from './metrics.js';

export interface UpstreamOptions {
  readonly notaryId: string;
  readonly upstreamId: string;
  readonly url: string;
  readonly everyMs: number;
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  /**
   * The upstream notary's signing certificate: anchor receipts are verified with it, and
   * it is stored with the chain's certificates so exports carry it (the auditor verifies
   * anchor receipts with it too).
   */
  readonly upstreamCert: Uint8Array;
  readonly store: ChainStore;
  readonly checkpointer: Checkpointer;
  readonly signer: Signer;
  readonly log?: Logger | undefined;
  readonly metrics?: NotaryMetrics | undefined;
}

/** Events: 'anchored' ({ seq, size }) when an anchor receipt is stored. */
export class Upstream extends EventEmitter {
  readonly #o: UpstreamOptions;
  readonly client: MqttClient;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #stopped = false;
  #ticking: Promise<void> | undefined;

  private constructor(o: UpstreamOptions, client: MqttClient) {
    super();
    this.#o = o;
    this.client = client;
  }

  static async start(o: UpstreamOptions): Promise<Upstream> {
    const client = mqtt.connect(o.url, {
      protocolVersion: 4,
      clientId: o.notaryId,
      clean: true,
      reconnectPeriod: Math.min(1000, o.everyMs),
      connectTimeout: 10_000,
      key: o.tls.key,
      cert: o.tls.cert,
      ca: o.tls.ca,
      // Trent's chain is checked by TLS (ca); the peer must be the configured upstream notary.
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        tlsPeerIdentity(cert, 'notary', o.upstreamId),
    } as IClientOptions);
    await o.store.putCertificate(kidOfCertificate(o.upstreamCert), o.upstreamCert, Date.now());
    const up = new Upstream(o, client);
    client.on('connect', () => {
      o.log?.info({ url: o.url }, 'connected to the upstream notary');
      client.subscribe(topics.receipt(o.upstreamId, o.notaryId), { qos: 1 });
      void up.tick();
    });
    client.on('error', (err) => o.log?.warn({ err: err.message }, 'upstream connection error'));
    client.on('message', (_topic, payload) => void up.#answer(new Uint8Array(payload)));
    up.#schedule();
    return up;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      void this.tick().finally(() => {
        if (this.#timer) this.#schedule();
      });
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  /** Anchored size: the checkpoint size of the last anchor with a receipt. */
  anchoredSize(): Promise<number> {
    return this.#o.store.anchoredSize();
  }

  /** Resends the pending anchor, or makes a new one when the chain has grown. */
  tick(): Promise<void> {
    if (this.#stopped || this.#busy || !this.client.connected) return Promise.resolve();
    this.#ticking = this.#tick();
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    this.#busy = true;
    try {
      const last = await this.#o.store.lastAnchor();
      if (last && !last.receipt) {
        this.#send(last.block);
        return;
      }
      const cp = await this.#o.checkpointer.checkpoint();
      if (!cp) return;
      const sig = decodeSign1(cp);
      const c = sig.ok ? decodeCheckpointPayload(sig.msg.payload) : undefined;
      if (!c?.ok) return;
      if (last && c.value.size <= last.size) return;
      const seq = (last?.upstreamSeq ?? 0) + 1;
      const prev = last ? internalHash(blockSignedHeader(last.block)) : ZERO_HASH;
      const header = {
        gatewayId: this.#o.notaryId,
        seq,
        prev,
        bodyHash: bodyHash(cp),
        root: merkleRoot([leafHash(cp)]),
        count: 1,
        sealedAt: Date.now(),
      };
      const signedHeader = await sign1(this.#o.signer, encodeBlockHeader(header));
      const block = encodeBlock({ signedHeader, body: cp });
      await this.#o.store.putAnchor(seq, c.value.size, block, Date.now());
      this.#send(block);
    } catch (err) {
      this.#o.log?.error({ err }, 'anchoring failed; retried at the next tick');
    } finally {
      await this.#updateLag();
      this.#busy = false;
    }
  }

  #send(block: Uint8Array): void {
    this.client.publish(topics.submit(this.#o.upstreamId, this.#o.notaryId), Buffer.from(block), {
      qos: 1,
    });
  }

  async #updateLag(): Promise<void> {
    try {
      this.#o.metrics?.upstreamLag.set(this.#o.store.size - (await this.anchoredSize()));
    } catch (err) {
      this.#o.log?.warn({ err }, 'upstream lag not updated');
    }
  }

  async #answer(bytes: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#onAnswer(bytes);
    } catch (err) {
      this.#o.log?.error({ err }, 'handling an upstream answer failed; the anchor is resent');
    }
  }

  async #onAnswer(bytes: Uint8Array): Promise<void> {
    const a = decodeAnswer(bytes);
    if (!a.ok) {
      this.#o.log?.warn({ detail: a.detail }, 'unreadable upstream answer');
      return;
    }
    const ans = a.value;
    if (ans.kind === 'refused') {
      this.#o.log?.warn({ ...ans }, 'upstream refused an anchor');
      return;
    }
    const cert = this.#o.upstreamCert;
    const v = verifyReceipt(
      ans.receipt,
      new X509Certificate(cert).publicKey,
      kidOfCertificate(cert),
    );
    if (!v.ok) {
      this.#o.log?.error({ check: v.check, detail: v.detail }, 'anchor receipt does not verify');
      return;
    }
    const size = await this.#o.store.setAnchorReceipt(ans.seq, ans.receipt);
    await this.#updateLag();
    if (size !== undefined) {
      this.#o.log?.info({ seq: ans.seq, size }, 'anchor receipt stored');
      this.emit('anchored', { seq: ans.seq, size });
      void this.tick();
    }
  }

  /** Stops anchoring; waits for a running tick so nothing touches the store afterwards. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#ticking;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.client.endAsync(true);
  }
}

function blockSignedHeader(block: Uint8Array): Uint8Array {
  const d = decodeBlock(block);
  if (!d.ok) throw new Error(`stored anchor block is unreadable: ${d.detail}`);
  return d.value.signedHeader;
}
