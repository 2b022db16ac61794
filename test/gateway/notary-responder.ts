/**
 * Plays the notary's side of the wire protocol (core/submit.ts) on a real aedes broker
 * over TCP, with real signed receipts: verifies each submitted block against the
 * gateway's key, enforces seq = last + 1 and the prev link (else 'gap' with
 * expectedSeq), appends an entry and answers with a receipt signed by the notary key on
 * its SoftHSM token. Not the notary (broker/ is built separately): just enough of it
 * to test the gateway against real bytes. `mode` lets a test make it misbehave.
 */

import type { KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeBlock, ZERO_HASH } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { equalBytes } from '../../core/bytes.js';
import { encodeEntry, entryHash } from '../../core/entry.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { signReceipt } from '../../core/receipt.js';
import type { Signer } from '../../core/signer.js';
import { encodeAnswer, RefusalReason, topics } from '../../core/submit.js';

export type ResponderMode = 'honest' | 'bad-signature' | 'other-block' | 'silent';

export class NotaryResponder {
  mode: ResponderMode = 'honest';
  /** Registered internal hashes, by height - 1. */
  readonly internals: Uint8Array[] = [];
  readonly receipts = new Map<number, Uint8Array>();
  readonly submissions: number[] = [];
  /** Largest (submitted seq - blocks registered) seen: how far ahead of receipts the gateway runs. */
  maxAhead = 0;
  /** Called for each verified submission, before it is answered (a test may drop the link). */
  onSubmission: (seq: number) => void = () => {};
  readonly #clients = new Map<string, Client>();
  #entries: Uint8Array[] = [];
  #lastHash: Uint8Array = ZERO_HASH;
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  #client: MqttClient | undefined;
  port = 0;
  tlsPort = 0;
  #tlsServer: TlsServer | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly o: {
      notaryId: string;
      gatewayId: string;
      gatewayKey: KeyObject;
      signer: Signer;
      /** Used in 'bad-signature' mode. */
      wrongSigner: Signer;
    },
  ) {}

  /**
   * Starts the broker on `port` (plain TCP, where the responder itself connects) and,
   * with `tls`, a TLS listener that requires a client certificate from `tls.ca`.
   */
  async start(port = 0, tls?: { cert: string; key: string; ca: string }): Promise<void> {
    this.#aedes = await Aedes.createBroker({});
    this.#aedes.on('clientReady', (c) => this.#clients.set(c.id, c));
    this.#aedes.on('clientDisconnect', (c) => {
      if (this.#clients.get(c.id) === c) this.#clients.delete(c.id);
    });
    this.#server = createServer(this.#aedes.handle);
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    if (tls) {
      this.#tlsServer = createTlsServer(
        { ...tls, requestCert: true, rejectUnauthorized: true },
        this.#aedes.handle,
      );
      this.#tlsServer.listen(0, '127.0.0.1');
      await once(this.#tlsServer, 'listening');
      const a = this.#tlsServer.address();
      this.tlsPort = typeof a === 'object' && a ? a.port : 0;
    }
    const addr = this.#server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    this.#client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.port}`, {
      protocolVersion: 4,
      clientId: `notary-${this.o.notaryId}`,
      reconnectPeriod: 0,
    });
    await this.#client.subscribeAsync(topics.submit(this.o.notaryId, '+'), { qos: 1 });
    // One submission at a time, in arrival order, as a notary registers them.
    this.#client.on('message', (topic, payload) => {
      this.#queue = this.#queue
        .then(() => this.#onSubmit(topic, payload))
        .catch((err: unknown) => {
          console.error('responder failed', err);
        });
    });
  }

  /** Cuts one client's connection from the broker side (a network drop, as it sees it). */
  drop(clientId: string): boolean {
    const c = this.#clients.get(clientId);
    c?.close();
    return c !== undefined;
  }

  /** Stops the broker (connections drop), keeping the chain in memory. */
  async stop(): Promise<void> {
    this.#client?.end(true);
    this.#server?.close();
    this.#tlsServer?.close();
    await new Promise<void>((r) => (this.#aedes ? this.#aedes.close(() => r()) : r()));
    this.#aedes = undefined;
  }

  async #answer(gatewayId: string, a: Parameters<typeof encodeAnswer>[0]): Promise<void> {
    await this.#client!.publishAsync(
      topics.receipt(this.o.notaryId, gatewayId),
      Buffer.from(encodeAnswer(a)),
      { qos: 1 },
    );
  }

  async #onSubmit(topic: string, payload: Uint8Array): Promise<void> {
    const gatewayId = topic.split('/').at(-1)!;
    const d = decodeBlock(payload);
    if (!d.ok) return;
    const v = verifyBlock(d.value, this.o.gatewayKey, { gatewayId: this.o.gatewayId });
    if (!v.ok) return;
    const seq = v.header.seq;
    this.submissions.push(seq);
    this.maxAhead = Math.max(this.maxAhead, seq - this.internals.length);
    this.onSubmission(seq);
    if (this.mode === 'silent') return;
    const have = this.internals.length;
    if (seq <= have) {
      // Already registered: answer with the same receipt again.
      const receipt = this.receipts.get(seq);
      if (receipt && equalBytes(this.internals[seq - 1]!, v.hash)) {
        await this.#answer(gatewayId, { kind: 'registered', seq, receipt });
      }
      return;
    }
    const prevInternal = have === 0 ? ZERO_HASH : this.internals[have - 1]!;
    if (seq !== have + 1 || !equalBytes(v.header.prev, prevInternal)) {
      await this.#answer(gatewayId, {
        kind: 'refused',
        seq,
        reason: RefusalReason.Gap,
        detail: `expected ${have + 1}`,
        expectedSeq: have + 1,
      });
      return;
    }
    const internal = this.mode === 'other-block' ? new Uint8Array(32).fill(7) : v.hash;
    const entry = encodeEntry({
      height: this.#entries.length + 1,
      prev: this.#lastHash,
      internal,
      submitter: gatewayId,
      registeredAt: Date.now(),
    });
    const signer = this.mode === 'bad-signature' ? this.o.wrongSigner : this.o.signer;
    const leaves = [...this.#entries, entry].map((e) => leafHash(entryHash(e)));
    const receipt = await signReceipt(signer, this.o.notaryId, entry, merkleRoot(leaves));
    if (this.mode === 'honest') {
      this.#entries.push(entry);
      this.#lastHash = entryHash(entry);
      this.internals.push(v.hash);
      this.receipts.set(seq, receipt);
    }
    await this.#answer(gatewayId, { kind: 'registered', seq, receipt });
  }
}
