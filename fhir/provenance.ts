import { CHAIN_HEIGHT_URL, MEDIA, SID, UNSIGNED_INT_MAX } from './canonical.js';
import { FhirCode, FhirError } from './errors.js';
import { proofBinaryId, provenanceId, receiptBinaryId } from './ids.js';
import type { Binary, Provenance, ProvenanceEntity } from './resources.js';

/**
 * One Provenance per block (docs/FHIR.md "Provenance"): its targets are the
 * Observations carrying the block's readings; recorded is the notary's registration
 * time; the agents are the gateway that sealed the block and the notary that registered
 * it; the entities are the notary's receipt (a Binary, with the chain height) and one
 * reading proof per reading (a Binary `medchain verify-proof` checks offline).
 */

export interface BlockProvenance {
  readonly notaryId: string;
  readonly height: number;
  readonly registeredAt: number;
  readonly gatewayDevice: string;
  readonly notaryDevice: string;
  /** Present when the export holds the notary's receipt for the block. */
  readonly receipt: Uint8Array | undefined;
  /** Observation ids carrying the block's readings, in export order. */
  readonly targets: readonly string[];
  /** The reading ids whose proofs the export carries. */
  readonly proven: readonly string[];
}

const PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';

export function provenanceOf(b: BlockProvenance): Provenance {
  if (!Number.isSafeInteger(b.height) || b.height < 0 || b.height > UNSIGNED_INT_MAX) {
    throw new FhirError(FhirCode.Range, `height ${b.height} does not fit a FHIR unsignedInt`, {
      height: b.height,
    });
  }
  const entry = `${b.notaryId}/${b.height}`;
  const receipt: ProvenanceEntity[] =
    b.receipt === undefined
      ? []
      : [
          {
            role: 'source',
            what: {
              reference: `Binary/${receiptBinaryId(b.notaryId, b.height)}`,
              identifier: { system: SID.chainEntry, value: entry },
              display: `receipt of ${b.notaryId} for chain height ${b.height}`,
            },
            extension: [{ url: CHAIN_HEIGHT_URL, valueUnsignedInt: b.height }],
          },
        ];
  const proofs: ProvenanceEntity[] = b.proven.map((readingId) => ({
    role: 'source',
    what: {
      reference: `Binary/${proofBinaryId(readingId)}`,
      identifier: { system: SID.reading, value: readingId },
      display: `reading proof of ${readingId}`,
    },
  }));
  return {
    resourceType: 'Provenance',
    id: provenanceId(b.notaryId, b.height),
    target: b.targets.map((id) => ({ reference: `Observation/${id}` })),
    recorded: new Date(b.registeredAt).toISOString(),
    agent: [
      {
        type: { coding: [{ system: PARTICIPANT, code: 'assembler', display: 'Assembler' }] },
        who: { reference: `Device/${b.gatewayDevice}` },
      },
      {
        type: { coding: [{ system: PARTICIPANT, code: 'verifier', display: 'Verifier' }] },
        who: { reference: `Device/${b.notaryDevice}` },
      },
    ],
    entity: [...receipt, ...proofs],
  };
}

export function receiptBinary(notaryId: string, height: number, receipt: Uint8Array): Binary {
  return {
    resourceType: 'Binary',
    id: receiptBinaryId(notaryId, height),
    contentType: MEDIA.receipt,
    data: Buffer.from(receipt).toString('base64'),
  };
}

export function proofBinary(readingId: string, proof: Uint8Array): Binary {
  return {
    resourceType: 'Binary',
    id: proofBinaryId(readingId),
    contentType: MEDIA.readingProof,
    data: Buffer.from(proof).toString('base64'),
  };
}
