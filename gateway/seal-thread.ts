/**
 * Sealing off the main loop: a BlockSealer backed by one worker thread
 * (gateway/seal-worker.ts). Each seal posts the block's readings to the worker; the
 * worker encrypts, builds the Merkle root and hashes, and asks back for the header
 * signature, which the main thread gets from the Signer it was given (the HSM child).
 * A worker that dies fails the seals in flight (the readings stay in the spool, the
 * batcher retries) and is started afresh at the next seal.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BlockHeader, SealInput } from '../core/block.js';
import type { Signer } from '../core/signer.js';
import { GatewayCode, GatewayError } from './errors.js';

/** What the gateway stores of a sealed block. */
export interface SealOutput {
  readonly header: BlockHeader;
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  /** The records' salts in leaf order, 16 bytes each. */
  readonly salts: Uint8Array;
}

export interface BlockSealer {
  seal(input: SealInput): Promise<SealOutput>;
  close(): Promise<void>;
}

export type ToSealWorker =
  | { op: 'seal'; id: number; kid: Uint8Array; input: Omit<SealInput, 'signer'> }
  | { op: 'signed'; id: number; signature: Uint8Array }
  | { op: 'signFailed'; id: number; message: string };

export type FromSealWorker =
  | { op: 'sign'; id: number; digest: Uint8Array }
  | { op: 'sealed'; id: number; out: SealOutput }
  | { op: 'failed'; id: number; message: string };

interface InFlight {
  signer: Signer;
  resolve: (o: SealOutput) => void;
  reject: (e: Error) => void;
}

const here = fileURLToPath(import.meta.url);
// Same extension as this file: .js when built, .ts under the test runner's loader.
const WORKER = here.replace(/seal-thread\.[jt]s$/, `seal-worker${extname(here)}`);

export class SealThread implements BlockSealer {
  #worker: Worker | undefined;
  readonly #inFlight = new Map<number, InFlight>();
  #next = 1;

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER);
    w.on('message', (m: FromSealWorker) => this.#onMessage(w, m));
    const fail = (why: string) => {
      if (this.#worker === w) this.#worker = undefined;
      for (const f of this.#inFlight.values()) {
        f.reject(new GatewayError(GatewayCode.SealWorker, `seal worker ${why}`));
      }
      this.#inFlight.clear();
    };
    w.on('error', (err) => fail(`failed: ${err.message}`));
    w.on('exit', (code) => fail(`exited with ${code}`));
    this.#worker = w;
    return w;
  }

  #onMessage(w: Worker, m: FromSealWorker): void {
    const f = this.#inFlight.get(m.id);
    if (f === undefined) return;
    if (m.op === 'sign') {
      f.signer.signDigest(m.digest).then(
        (signature) => w.postMessage({ op: 'signed', id: m.id, signature } satisfies ToSealWorker),
        (err: unknown) =>
          w.postMessage({
            op: 'signFailed',
            id: m.id,
            message: err instanceof Error ? err.message : String(err),
          } satisfies ToSealWorker),
      );
      return;
    }
    this.#inFlight.delete(m.id);
    if (m.op === 'sealed') f.resolve(m.out);
    else f.reject(new GatewayError(GatewayCode.SealWorker, `sealing failed: ${m.message}`));
  }

  seal(input: SealInput): Promise<SealOutput> {
    const w = this.#start();
    const id = this.#next++;
    const { signer, ...rest } = input;
    return new Promise((resolve, reject) => {
      this.#inFlight.set(id, { signer, resolve, reject });
      w.postMessage({ op: 'seal', id, kid: signer.kid, input: rest } satisfies ToSealWorker);
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }
}
