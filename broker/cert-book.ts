/**
 * Signing certificates the notary knows, by kid (SHA-256 of the DER, core/kid.ts):
 * loaded from configured PEM files and the chain database, added at runtime. A block
 * whose kid is not here comes from an unknown gateway. Knowing a certificate grants
 * nothing by itself: each use is validated (Trust.validate) at registration time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from '../ca/x509.js';
import { toHex } from '../core/bytes.js';
import { kidOfCertificate } from '../core/kid.js';

export class CertificateBook {
  readonly #byKid = new Map<string, Uint8Array>();

  add(cert: Uint8Array | string): Uint8Array {
    const der = typeof cert === 'string' ? new Uint8Array(new X509Certificate(cert).rawData) : cert;
    const kid = kidOfCertificate(der);
    this.#byKid.set(toHex(kid), der);
    return kid;
  }

  get(kid: Uint8Array): Uint8Array | undefined {
    return this.#byKid.get(toHex(kid));
  }

  get size(): number {
    return this.#byKid.size;
  }

  /** Every certificate held (DER), for the expiry gauge. */
  all(): Uint8Array[] {
    return [...this.#byKid.values()];
  }

  /** Adds every certificate in the given PEM files or directories (*.pem, one cert each). */
  loadPaths(paths: readonly string[]): number {
    let n = 0;
    for (const p of paths) {
      const files = statSync(p).isDirectory()
        ? readdirSync(p)
            .filter((f) => f.endsWith('.pem'))
            .map((f) => join(p, f))
        : [p];
      for (const f of files) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(
          /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
        )) {
          this.add(m[0]);
          n += 1;
        }
      }
    }
    return n;
  }
}
