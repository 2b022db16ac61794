import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { leafHash } from '../core/merkle.js';
import { inclusionProof } from '../core/merkle-proof.js';
import { encodeReadingProof } from '../core/reading-proof.js';
import type { OpenedBlock } from './blocks.js';
import { FhirCode, FhirError } from './errors.js';

/**
 * Reading proofs made by the reader (docs/FORMAT.md "Reading proofs"): the opened body
 * gives every salted record, hence the Merkle path of each; the chain export gives the
 * signed header, the notary's receipt and the certificates whose SHA-256 are their
 * kids. The same bytes `medchain prove` builds from a gateway's database, without a
 * regional anchor.
 */
export class ProofMaker {
  readonly #certs = new Map<string, Uint8Array>();

  addCertificate(der: Uint8Array): void {
    this.#certs.set(toHex(kidOfCertificate(der)), der);
  }

  /** One proof per record, in leaf order; none when the export has no receipt for the block. */
  proofs(b: OpenedBlock): Uint8Array[] {
    if (b.receipt === undefined) return [];
    const gatewayCert = this.#cert(b.signedHeader, b.height, 'signed header');
    const notaryCert = this.#cert(b.receipt, b.height, 'receipt');
    const leaves = b.records.map((r) => leafHash(r.bytes));
    return b.records.map((r, i) =>
      encodeReadingProof({
        record: r.bytes,
        leafIndex: i,
        path: inclusionProof(leaves, i),
        signedHeader: b.signedHeader,
        gatewayCert,
        receipt: b.receipt ?? new Uint8Array(0),
        notaryCert,
        anchors: [],
      }),
    );
  }

  #cert(sign1: Uint8Array, height: number, what: string): Uint8Array {
    const m = decodeSign1(sign1);
    const kid = m.ok ? m.msg.kid : undefined;
    const der = kid === undefined ? undefined : this.#certs.get(toHex(kid));
    if (der === undefined) {
      throw new FhirError(
        FhirCode.BadExport,
        `block at height ${height}: the export holds no certificate for the ${what}'s kid`,
        { height },
      );
    }
    return der;
  }
}
