/**
 * Certificate judgments of an export verification, all through ca/validate.ts:
 * certificates are found by kid among the export's `certificate` items and judged at
 * the time a signature was vouched for (the entry's registration time), in historical
 * mode against the newest of the CRLs available (the export's and the auditor's):
 * a revocation dated after that time leaves the signature good, one dated at or
 * before it makes it a failure. Trent's CRLs list every revocation so far and a
 * revocation is final, so the newest CRL holds what the older ones say.
 */
import type { KeyObject } from 'node:crypto';
import type { Role } from '../ca/identity.js';
import { type ValidationResult, validateCertificate } from '../ca/validate.js';
import { X509Certificate, X509Crl } from '../ca/x509.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { type ExportCheck, Fail } from './export-fail.js';

export interface SignerKey {
  readonly kid: Uint8Array;
  readonly key: KeyObject;
  /** The certificate (DER) the kid named. */
  readonly der: Uint8Array;
}

export interface CertJudgeSources {
  /** Certificates not given with addCertificate (a replica asks its store, then the notary). */
  readonly certificate?: (kid: Uint8Array) => Promise<Uint8Array | undefined>;
  /**
   * The CRL in force, read at each judgment (a replica's follows Trent's updates);
   * without it the newest CRL added before the first judgment is used.
   */
  readonly crl?: () => X509Crl | undefined;
}

export class CertJudge {
  readonly #root: X509Certificate;
  readonly #skewMs: number;
  readonly #sources: CertJudgeSources;
  readonly #certs = new Map<string, Uint8Array>();
  readonly #crls: X509Crl[] = [];
  #crl: X509Crl | undefined;
  #sealed = false;
  readonly #memo = new Map<string, { v: ValidationResult; from: number; until: number }>();

  constructor(root: X509Certificate, skewMs: number, sources: CertJudgeSources = {}) {
    this.#root = root;
    this.#skewMs = skewMs;
    this.#sources = sources;
  }

  get #crlInForce(): X509Crl | undefined {
    return this.#sources.crl ? this.#sources.crl() : this.#crl;
  }

  addCertificate(der: Uint8Array): void {
    this.#certs.set(toHex(kidOfCertificate(der)), der);
  }

  /** A CRL must be Trent's (issuer and signature of the root); `source` names it in a failure. */
  async addCrl(bytes: string | Uint8Array, source: string): Promise<void> {
    if (this.#sealed) throw new Fail('format', undefined, `${source}: CRLs must precede entries`);
    let crl: X509Crl;
    try {
      crl = new X509Crl(typeof bytes === 'string' ? bytes : Buffer.from(bytes));
    } catch (err) {
      throw new Fail('crl', undefined, `${source}: unreadable CRL (${(err as Error).message})`);
    }
    const issuer = Buffer.from(crl.issuerName.toArrayBuffer());
    let valid = issuer.equals(Buffer.from(this.#root.subjectName.toArrayBuffer()));
    try {
      valid = valid && (await crl.verify({ publicKey: this.#root.publicKey }));
    } catch {
      valid = false;
    }
    if (!valid) throw new Fail('crl', undefined, `${source}: not a CRL signed by the root`);
    this.#crls.push(crl);
  }

  /** Fixes the CRL in force for the rest of the run (the newest by thisUpdate). */
  seal(): void {
    if (this.#sealed) return;
    this.#sealed = true;
    for (const c of this.#crls) {
      if (!this.#crl || c.thisUpdate.getTime() > this.#crl.thisUpdate.getTime()) this.#crl = c;
    }
  }

  get crlCount(): number {
    return this.#crls.length;
  }

  get revocationChecked(): boolean {
    return this.#crlInForce !== undefined;
  }

  /** The certificate a COSE_Sign1's kid names, valid for one of `roles` and `id` at `at`. */
  async signerOf(
    cose: Uint8Array,
    roles: readonly Role[],
    id: string,
    at: number,
    check: ExportCheck,
    height: number | undefined,
  ): Promise<SignerKey> {
    this.seal();
    const m = decodeSign1(cose);
    const kid = m.ok ? m.msg.kid : undefined;
    if (!kid) throw new Fail(check, height, 'not a COSE_Sign1 with a kid');
    const der = this.#certs.get(toHex(kid)) ?? (await this.#sources.certificate?.(kid));
    if (!der) {
      throw new Fail(check, height, `the kid ${toHex(kid)} names no certificate at hand`);
    }
    let v: ValidationResult | undefined;
    for (const role of roles) {
      v = await this.#validate(der, kid, role, id, at);
      if (v.ok || v.reason !== 'wrong-role') break;
    }
    if (!v?.ok) {
      throw new Fail(check, height, v ? `${v.reason}: ${v.detail}` : 'no role allowed');
    }
    return { kid, key: v.publicKey.keyObject, der };
  }

  /**
   * One full validation per (certificate, role, id) under the sealed CRL: a certificate
   * valid once and not listed on that CRL is valid at any time inside its validity
   * window, so later times only compare against the window. A listed one depends on
   * the revocation date against `at`, and is validated at each time.
   */
  async #validate(
    der: Uint8Array,
    kid: Uint8Array,
    role: Role,
    id: string,
    at: number,
  ): Promise<ValidationResult> {
    const crl = this.#crlInForce;
    const key = `${toHex(kid)}|${role}|${id}|${crl?.thisUpdate.getTime() ?? 0}`;
    const hit = this.#memo.get(key);
    if (hit && at + this.#skewMs >= hit.from && at - this.#skewMs <= hit.until) return hit.v;
    const v = await validateCertificate(der, {
      root: this.#root,
      crl,
      role,
      id,
      at: new Date(at),
      skewMs: this.#skewMs,
      historical: true,
    });
    const listed =
      crl !== undefined && crl.findRevoked(new X509Certificate(Buffer.from(der))) !== null;
    if (v.ok && !listed) {
      if (this.#memo.size > 10_000) this.#memo.clear();
      this.#memo.set(key, { v, from: v.notBefore.getTime(), until: v.notAfter.getTime() });
    }
    return v;
  }
}
