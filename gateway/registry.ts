/**
 * Device registry: one row per device with a one-way hash of its secret; the secret
 * itself is shown once at `device add` and never stored. The cost of the hash fits
 * the secret (docs/GATEWAY.md "Device secrets"):
 *
 * - a generated secret (32 random bytes) is stored as HMAC-SHA256(salt, secret): with
 *   256 bits of entropy no offline guessing is possible, so a slow KDF would only make
 *   every CONNECT (a flood's included) cost 32 MiB and tens of milliseconds;
 * - a secret an operator chose (`--secret-file`) may be guessable and keeps scrypt
 *   (RFC 7914), run on a small bounded, cancellable queue (ops/bounded-queue.ts);
 * - a record written before this split (scrypt, origin unknown) is checked with scrypt
 *   and, when the secret has exactly the generated form, rewritten as HMAC on that
 *   first successful CONNECT.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { DEVICE_ID_RE } from '../core/reading-schema.js';
import { BoundedQueue, QueueFullError } from '../ops/bounded-queue.js';
import type { SqliteDb } from '../ops/sqlite.js';
import { GatewayCode, GatewayError } from './errors.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly keyLen: number;
}

/** OWASP's scrypt floor (N=2^17 r=8 p=1) costs ~128 MiB per CONNECT; 2^15 is 32 MiB. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1, keyLen: 32 };
export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 256;
export const MAX_DEVICE_ID_LENGTH = 64;

export interface DeviceRecord {
  readonly id: string;
  readonly createdAt: number;
}

/** Names that read back from a plain object's prototype (GHSA-52qw-whmv-87c5). */
const RESERVED_IDS = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty']);

export function assertDeviceId(id: string): string {
  if (
    id.length === 0 ||
    id.length > MAX_DEVICE_ID_LENGTH ||
    !DEVICE_ID_RE.test(id) ||
    RESERVED_IDS.has(id)
  ) {
    throw new GatewayError(
      GatewayCode.Device,
      `device id '${id.slice(0, 80)}': 1 to ${MAX_DEVICE_ID_LENGTH} characters of A-Z a-z 0-9 . _ : - (it becomes an MQTT topic level)`,
    );
  }
  return id;
}

function derive(secret: Buffer, salt: Uint8Array, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, p.keyLen, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

function hmac(secret: Uint8Array, salt: Uint8Array): Buffer {
  return createHmac('sha256', salt).update(secret).digest();
}

/** A fresh device secret: 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** True for a secret of the form newSecret() makes (43 base64url characters = 256 bits). */
export function isGeneratedForm(secret: Uint8Array): boolean {
  return secret.length === 43 && /^[A-Za-z0-9_-]{43}$/.test(Buffer.from(secret).toString('latin1'));
}

/** How a record's hash was made: the params column, JSON. */
type StoredParams =
  | { alg: 'hmac-sha256' }
  | ({ alg: 'scrypt'; origin: 'chosen' } & ScryptParams)
  /** Written before the split: scrypt, origin unknown. */
  | ScryptParams;

function isHmac(p: StoredParams): p is { alg: 'hmac-sha256' } {
  return (p as { alg?: string }).alg === 'hmac-sha256';
}

export interface VerifyOptions {
  /** Aborted when the connection closes: a waiting scrypt check is dropped. */
  signal?: AbortSignal | undefined;
  /** Refuse (QueueFullError) instead of running a slow check, e.g. during a CONNECT storm. */
  refuseSlow?: boolean | undefined;
}

export class DeviceRegistry {
  readonly #db: SqliteDb;
  readonly #params: ScryptParams;
  // Hashed for unknown ids too, so a CONNECT's timing does not tell which ids exist.
  readonly #dummySalt = randomBytes(16);
  // scrypt runs on libuv's thread pool, which SQLite (the spool commits that PUBACKs
  // wait for) shares: slow checks hold at most `concurrency` of its threads, and at
  // most `maxWaiting` more wait (the rest are refused at once).
  readonly slowQueue: BoundedQueue;
  /** Records rewritten from scrypt to HMAC (legacy generated secrets). */
  upgraded = 0;

  constructor(
    db: SqliteDb,
    params: ScryptParams = DEFAULT_SCRYPT,
    concurrency = 2,
    maxWaiting = 16,
  ) {
    this.#db = db;
    this.#params = params;
    this.slowQueue = new BoundedQueue(concurrency, maxWaiting);
  }

  /**
   * Registers a device. Without `secret` one is generated (and stored as HMAC); a given
   * secret is operator-chosen (stored with scrypt) unless the caller made it with
   * newSecret() and says so (`origin: 'generated'`). Returns the secret.
   */
  async add(
    id: string,
    secret?: string,
    origin: 'generated' | 'chosen' = secret === undefined ? 'generated' : 'chosen',
  ): Promise<string> {
    assertDeviceId(id);
    const chosen = origin === 'chosen';
    const value = secret ?? newSecret();
    const s = Buffer.from(value, 'utf8');
    if (s.length < MIN_SECRET_LENGTH || s.length > MAX_SECRET_LENGTH) {
      throw new GatewayError(
        GatewayCode.Device,
        `device secret: ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} bytes`,
      );
    }
    const salt = randomBytes(16);
    const [hash, params]: [Uint8Array, StoredParams] = chosen
      ? [await derive(s, salt, this.#params), { alg: 'scrypt', origin: 'chosen', ...this.#params }]
      : [hmac(s, salt), { alg: 'hmac-sha256' }];
    const r = await this.#db.run(
      'INSERT OR IGNORE INTO devices (id, salt, hash, params, created_at) VALUES (?, ?, ?, ?, ?)',
      [id, salt, hash, JSON.stringify(params), Date.now()],
    );
    if (r.changes === 0) {
      throw new GatewayError(
        GatewayCode.Device,
        `device '${id}' is already registered; remove it first to issue a new secret.`,
      );
    }
    return value;
  }

  async remove(id: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM devices WHERE id = ?', [id])).changes > 0;
  }

  async list(): Promise<DeviceRecord[]> {
    const rows = await this.#db.all<{ id: string; created_at: number }>(
      'SELECT id, created_at FROM devices ORDER BY id',
    );
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
  }

  /**
   * True only for a registered device with this exact secret. A slow (scrypt) check
   * throws QueueFullError when the queue is full or `refuseSlow` is set, and
   * QueueAbortedError when `signal` aborts while it waits.
   */
  async verify(
    id: string,
    secret: Uint8Array | undefined,
    o: VerifyOptions = {},
  ): Promise<boolean> {
    const given = Buffer.from(secret ?? new Uint8Array(0));
    if (given.length > MAX_SECRET_LENGTH) return false;
    const row = await this.#db.get<{ salt: Uint8Array; hash: Uint8Array; params: string }>(
      'SELECT salt, hash, params FROM devices WHERE id = ?',
      [id],
    );
    if (!row) {
      hmac(given, this.#dummySalt);
      return false;
    }
    const params = JSON.parse(row.params) as StoredParams;
    if (isHmac(params)) return equal(hmac(given, row.salt), row.hash);
    if (o.refuseSlow) throw new QueueFullError();
    const got = await this.slowQueue.run(() => derive(given, row.salt, params), o.signal);
    const ok = equal(got, row.hash);
    if (ok && !('alg' in params) && isGeneratedForm(given)) await this.#upgrade(id, given);
    return ok;
  }

  async #upgrade(id: string, secret: Buffer): Promise<void> {
    const salt = randomBytes(16);
    const r = await this.#db.run(
      'UPDATE devices SET salt = ?, hash = ?, params = ? WHERE id = ? AND params NOT LIKE \'%"alg"%\'',
      [salt, hmac(secret, salt), JSON.stringify({ alg: 'hmac-sha256' }), id],
    );
    this.upgraded += r.changes;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
