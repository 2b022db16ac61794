/**
 * Device registry: one row per device with its secret hashed by scrypt (RFC 7914,
 * node:crypto). The secret itself is shown once at `device add` and never stored.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { DEVICE_ID_RE } from '../core/reading-schema.js';
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

/** A fresh device secret: 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export class DeviceRegistry {
  readonly #db: SqliteDb;
  readonly #params: ScryptParams;
  // Hashed for unknown ids too, so a CONNECT's timing does not tell which ids exist.
  readonly #dummySalt = randomBytes(16);
  // scrypt runs on libuv's thread pool, which SQLite (the spool commits that PUBACKs
  // wait for) shares: a CONNECT flood may hold at most this many of its threads.
  readonly #maxConcurrent: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(db: SqliteDb, params: ScryptParams = DEFAULT_SCRYPT, maxConcurrent = 2) {
    this.#db = db;
    this.#params = params;
    this.#maxConcurrent = maxConcurrent;
  }

  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#maxConcurrent) {
      // The finishing holder hands its slot over: #running stays the same.
      await new Promise<void>((r) => this.#waiting.push(r));
    } else {
      this.#running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** Registers a device; the secret is generated when not given. Returns the secret. */
  async add(id: string, secret: string = newSecret()): Promise<string> {
    assertDeviceId(id);
    const s = Buffer.from(secret, 'utf8');
    if (s.length < MIN_SECRET_LENGTH || s.length > MAX_SECRET_LENGTH) {
      throw new GatewayError(
        GatewayCode.Device,
        `device secret: ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} bytes`,
      );
    }
    const salt = randomBytes(16);
    const hash = await derive(s, salt, this.#params);
    const r = await this.#db.run(
      'INSERT OR IGNORE INTO devices (id, salt, hash, params, created_at) VALUES (?, ?, ?, ?, ?)',
      [id, salt, hash, JSON.stringify(this.#params), Date.now()],
    );
    if (r.changes === 0) {
      throw new GatewayError(
        GatewayCode.Device,
        `device '${id}' is already registered; remove it first to issue a new secret.`,
      );
    }
    return secret;
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

  /** True only for a registered device with this exact secret. */
  async verify(id: string, secret: Uint8Array | undefined): Promise<boolean> {
    const row = await this.#db.get<{ salt: Uint8Array; hash: Uint8Array; params: string }>(
      'SELECT salt, hash, params FROM devices WHERE id = ?',
      [id],
    );
    const given = Buffer.from(secret ?? new Uint8Array(0));
    if (given.length > MAX_SECRET_LENGTH) return false;
    if (!row) {
      await this.#limited(() => derive(given, this.#dummySalt, this.#params));
      return false;
    }
    const params = JSON.parse(row.params) as ScryptParams;
    const got = await this.#limited(() => derive(given, row.salt, params));
    return got.length === row.hash.length && timingSafeEqual(got, row.hash);
  }
}
