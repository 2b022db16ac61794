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
import { type X509Certificate, X509Crl } from '../ca/x509.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { type ExportCheck, Fail } from './export-fail.js';

export interface SignerKey {
  readonly kid: Uint8Array;
  readonly key: KeyObject;
}

export class CertJudge {
  readonly #root: X509Certificate;
  readonly #skewMs: number;
  readonly #certs = new Map<string, Uint8Array>();
  readonly #crls: X509Crl[] = [];
  #crl: X509Crl | undefined;
  #sealed = false;
  readonly #memo = new Map<string, ValidationResult>();

  constructor(root: X509Certificate, skewMs: number) {
    this.#root = root;
    this.#skewMs = skewMs;
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
    return this.#crl !== undefined;
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
    const der = kid ? this.#certs.get(toHex(kid)) : undefined;
    if (!kid || !der) {
      throw new Fail(check, height, `the ${check}'s kid names no certificate in the export`);
    }
    let v: ValidationResult | undefined;
    for (const role of roles) {
      v = await this.#validate(der, kid, role, id, at);
      if (v.ok || v.reason !== 'wrong-role') break;
    }
    if (!v?.ok) {
      throw new Fail(check, height, v ? `${v.reason}: ${v.detail}` : 'no role allowed');
    }
    return { kid, key: v.publicKey.keyObject };
  }

  async #validate(der: Uint8Array, kid: Uint8Array, role: Role, id: string, at: number) {
    // Entries of one batch share their registration time: one validation serves them all.
    const key = `${toHex(kid)}|${role}|${id}|${at}`;
    const hit = this.#memo.get(key);
    if (hit) return hit;
    const v = await validateCertificate(der, {
      root: this.#root,
      crl: this.#crl,
      role,
      id,
      at: new Date(at),
      skewMs: this.#skewMs,
      historical: true,
    });
    if (this.#memo.size > 10_000) this.#memo.clear();
    this.#memo.set(key, v);
    return v;
  }
}
