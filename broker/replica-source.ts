/**
 * The replica's view of a notary's read-only HTTP API (broker/http-api.ts): the chain
 * feed by range, the latest checkpoint, consistency proofs and certificates by kid.
 * Answers are parsed strictly; nothing here is trusted — the replica verifies every
 * byte against Trent's root (replica-verify.ts, replica-checkpoints.ts). Any transport
 * or format problem is a REPLICA_SOURCE error, which the replica retries with backoff.
 */
import { z } from 'zod';
import { toHex } from '../core/bytes.js';
import { ReplicaCode, ReplicaError } from './replica-errors.js';

/** One chain position as the notary serves it: the fields of an export `entry` item. */
export interface FeedItem {
  readonly height: number;
  readonly entry: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly body: Uint8Array;
  readonly erased: { readonly at: number; readonly reason: string } | undefined;
  readonly receipt: Uint8Array | undefined;
}

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const uint = z.number().int().min(0);
const FeedSchema = z.object({
  size: uint,
  items: z.array(
    z.object({
      height: uint.min(1),
      entry: b64,
      signedHeader: b64,
      body: b64,
      erased: z.object({ at: uint, reason: z.string() }).nullable(),
      receipt: b64.nullable(),
    }),
  ),
});
const CheckpointSchema = z.object({ checkpoint: b64 });
const ConsistencySchema = z.object({ proof: z.array(b64) });
const CertificateSchema = z.object({ der: b64 });

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export class NotarySource {
  readonly base: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, timeoutMs = 10_000) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new ReplicaError(ReplicaCode.Config, `--notary: not a URL: '${baseUrl}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ReplicaError(
        ReplicaCode.Config,
        `--notary: http(s) URL expected, got '${baseUrl}'`,
      );
    }
    this.base = url.href.replace(/\/$/, '');
    this.#timeoutMs = timeoutMs;
  }

  /** Items from..to (the notary may answer fewer) and the notary's chain size. */
  async feed(from: number, to: number): Promise<{ size: number; items: FeedItem[] }> {
    const r = await this.#get(`/feed?from=${from}&to=${to}`, FeedSchema);
    if (!r) throw this.#error(`/feed: not found`);
    return {
      size: r.size,
      items: r.items.map((i) => ({
        height: i.height,
        entry: bytes(i.entry),
        signedHeader: bytes(i.signedHeader),
        body: bytes(i.body),
        erased: i.erased ?? undefined,
        receipt: i.receipt === null ? undefined : bytes(i.receipt),
      })),
    };
  }

  /** The latest signed checkpoint, or undefined when the notary has none yet. */
  async checkpoint(): Promise<Uint8Array | undefined> {
    const r = await this.#get('/checkpoint', CheckpointSchema);
    return r ? bytes(r.checkpoint) : undefined;
  }

  async consistency(from: number, to: number): Promise<Uint8Array[]> {
    const r = await this.#get(`/proof/consistency?from=${from}&to=${to}`, ConsistencySchema);
    if (!r) throw this.#error(`/proof/consistency: not found`);
    return r.proof.map(bytes);
  }

  async certificate(kid: Uint8Array): Promise<Uint8Array | undefined> {
    const r = await this.#get(`/certificate/${toHex(kid)}`, CertificateSchema);
    return r ? bytes(r.der) : undefined;
  }

  /** GET and parse; undefined for 404, REPLICA_SOURCE for anything else unexpected. */
  async #get<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (err) {
      throw this.#error(`${path}: ${(err as Error).cause ?? (err as Error).message}`, err);
    }
    const text = await res.text().catch(() => '');
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.#error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.#error(`${path}: not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw this.#error(`${path}: unexpected answer: ${parsed.error.message}`);
    return parsed.data;
  }

  #error(detail: string, cause?: unknown): ReplicaError {
    return new ReplicaError(ReplicaCode.Source, `notary ${this.base}${detail}`, { cause });
  }
}
