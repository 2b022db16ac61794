/**
 * Every URL the FHIR export writes that medchain itself defines. The base is a name,
 * not a host to fetch: the StructureDefinitions of the extensions ship in
 * fhir/structure-definitions.ts and every notary serves them at
 * GET /fhir/StructureDefinition/{id} (docs/FHIR.md "Terminology").
 */
export const MEDCHAIN_FHIR = 'https://medchain.example/fhir';

/** Identifier systems (NamingSystem-style URIs): the ids medchain already uses. */
export const SID = {
  /** A reading's identity at every hop: deviceId/seq (DESIGN §4). */
  reading: `${MEDCHAIN_FHIR}/sid/reading`,
  device: `${MEDCHAIN_FHIR}/sid/device`,
  gateway: `${MEDCHAIN_FHIR}/sid/gateway`,
  notary: `${MEDCHAIN_FHIR}/sid/notary`,
  /** Default system of the clinic's opaque patient reference (--patient-system). */
  patient: `${MEDCHAIN_FHIR}/sid/patient`,
  /** A chain entry: notaryId/height. */
  chainEntry: `${MEDCHAIN_FHIR}/sid/chain-entry`,
} as const;

const SD = `${MEDCHAIN_FHIR}/StructureDefinition`;
/** Device time minus gateway receive time, present when beyond the allowed skew. */
export const CLOCK_SKEW_URL = `${SD}/clock-skew`;
/** The height of a block's entry in its notary's chain (Provenance.entity). */
export const CHAIN_HEIGHT_URL = `${SD}/chain-height`;

/** R4 vital-signs profiles (FHIR R4 §observation-vitalsigns), each derived from vitalsigns. */
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition';
export const PROFILE = {
  heartRate: `${HL7_SD}/heartrate`,
  oxygenSat: `${HL7_SD}/oxygensat`,
  bodyTemp: `${HL7_SD}/bodytemp`,
  bp: `${HL7_SD}/bp`,
} as const;

/** Media types of the Binary resources the export writes. */
export const MEDIA = {
  /** A reading proof (docs/FORMAT.md "Reading proofs"): what `medchain verify-proof` reads. */
  readingProof: 'application/vnd.medchain.reading-proof+cbor',
  /** The notary's COSE_Sign1 receipt of a block (RFC 9052). */
  receipt: 'application/cose; cose-type="cose-sign1"',
} as const;

/** FHIR id: [A-Za-z0-9\-\.]{1,64}. */
export const FHIR_ID_RE = /^[A-Za-z0-9.-]{1,64}$/;
/** FHIR unsignedInt. */
export const UNSIGNED_INT_MAX = 2_147_483_647;
