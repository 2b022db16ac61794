/**
 * What the notary trusts: Trent's root and Trent's current CRL. Every certificate
 * check goes through ca/validate.ts (the one validator). The CRL is followed from a
 * file and/or the retained MQTT topic (see crl-follower.ts); a CRL is accepted only
 * if it verifies under the root and is not older than the one held.
 */
import { readFileSync } from 'node:fs';
import type { Purpose, Role } from '../ca/identity.js';
import { type ValidationResult, validateCertificate } from '../ca/validate.js';
import { X509Certificate, X509Crl } from '../ca/x509.js';

export interface TrustOptions {
  root: string | Uint8Array;
  crl?: string | Uint8Array | undefined;
  /** Allowed clock difference for certificate and CRL dates (default 5 min). */
  skewMs?: number | undefined;
}

export class Trust {
  readonly root: X509Certificate;
  readonly skewMs: number;
  #crl: X509Crl | undefined;
  #crlVersion = 0;
  readonly #cache = new Map<string, { result: ValidationResult; until: number }>();
  readonly #installed: ((crl: X509Crl) => Promise<void>)[] = [];

  constructor(opts: TrustOptions) {
    this.root = new X509Certificate(toInput(opts.root));
    this.skewMs = opts.skewMs ?? 300_000;
    if (opts.crl !== undefined) this.#crl = new X509Crl(toInput(opts.crl));
  }

  static fromFiles(rootPath: string, crlPath?: string, skewMs?: number): Trust {
    return new Trust({
      root: readFileSync(rootPath, 'utf8'),
      crl: crlPath === undefined ? undefined : readFileSync(crlPath),
      skewMs,
    });
  }

  get crl(): X509Crl | undefined {
    return this.#crl;
  }

  /**
   * Calls `fn` with each CRL installed from now on; updateCrl resolves only after it
   * settles (the notary records the CRL for exports before anyone is told it is in force).
   */
  onInstalled(fn: (crl: X509Crl) => Promise<void>): void {
    this.#installed.push(fn);
  }

  /**
   * updateCrl with the file's bytes now. A file that cannot be read (deleted, being
   * replaced, unreadable) is refused like a bad CRL: the one held stays in force.
   */
  async updateCrlFromFile(path: string): Promise<{ ok: boolean; detail: string }> {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      return {
        ok: false,
        detail: `cannot read ${path} (${(err as Error).message}); the CRL held stays in force`,
      };
    }
    return this.updateCrl(bytes);
  }

  /**
   * Installs a newer CRL (PEM or DER). Refuses one that does not verify under the root
   * or is older than the current one; returns whether it was installed.
   */
  async updateCrl(input: string | Uint8Array): Promise<{ ok: boolean; detail: string }> {
    let crl: X509Crl;
    try {
      crl = new X509Crl(toInput(input));
    } catch (err) {
      return { ok: false, detail: `unreadable CRL: ${(err as Error).message}` };
    }
    let valid = false;
    try {
      valid = await crl.verify({ publicKey: this.root.publicKey });
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, detail: 'the CRL does not verify under the root' };
    if (this.#crl && crl.thisUpdate.getTime() < this.#crl.thisUpdate.getTime()) {
      return { ok: false, detail: 'the CRL is older than the one held' };
    }
    this.#crl = crl;
    this.#crlVersion += 1;
    this.#cache.clear();
    for (const fn of this.#installed) await fn(crl);
    return { ok: true, detail: `CRL of ${crl.thisUpdate.toISOString()}` };
  }

  /**
   * validateCertificate with this root and CRL, for `role` (and `id` when known) at
   * `at`, as a signing certificate or (TLS peers) a TLS one. Results are cached for a second per certificate/role/id/CRL version.
   */
  async validate(
    cert: Uint8Array | string,
    role: Role,
    id: string | undefined,
    at: Date = new Date(),
    purpose: Purpose = 'signing',
  ): Promise<ValidationResult> {
    const key = `${Buffer.from(cert).toString('base64')}|${role}|${id ?? ''}|${purpose}|${this.#crlVersion}`;
    const hit = this.#cache.get(key);
    if (hit && hit.until > at.getTime()) return hit.result;
    const result = await validateCertificate(cert, {
      root: this.root,
      crl: this.#crl,
      role,
      id,
      at,
      skewMs: this.skewMs,
      purpose,
    });
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(key, { result, until: at.getTime() + 1000 });
    return result;
  }
}

function toInput(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v);
}
