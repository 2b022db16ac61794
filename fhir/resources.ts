import type { FhirDecimal } from './decimal.js';

/**
 * The FHIR R4 resources `medchain export --format fhir` writes, typed as far as it
 * writes them (decimals as exact text: FhirDecimal). Shapes and examples: docs/FHIR.md;
 * conformance is checked in test/fhir against the R4 definitions and vital-signs profiles.
 */

export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}
export interface CodeableConcept {
  readonly coding?: readonly Coding[];
  readonly text?: string;
}
export interface Identifier {
  readonly system: string;
  readonly value: string;
}
export interface Reference {
  readonly reference: string;
  readonly identifier?: Identifier;
  readonly display?: string;
}
export interface Quantity {
  readonly value: FhirDecimal;
  readonly unit: string;
  readonly system: string;
  readonly code: string;
}
export interface SampledData {
  readonly origin: Quantity;
  readonly period: FhirDecimal;
  readonly factor: FhirDecimal;
  readonly dimensions: 1;
  readonly data: string;
}
export interface Extension {
  readonly url: string;
  readonly valueQuantity?: Quantity;
  readonly valueUnsignedInt?: number;
}

interface Value {
  readonly valueQuantity?: Quantity;
  readonly valueSampledData?: SampledData;
}
export interface ObservationComponent extends Value {
  readonly code: CodeableConcept;
}

export interface Observation extends Value {
  readonly resourceType: 'Observation';
  readonly id: string;
  readonly meta?: { readonly profile: readonly string[] };
  readonly extension?: readonly Extension[];
  /** One per reading the Observation carries (an ECG strip carries many). */
  readonly identifier: readonly Identifier[];
  readonly status: 'final';
  readonly category: readonly CodeableConcept[];
  readonly code: CodeableConcept;
  readonly subject: Reference;
  readonly effectiveDateTime: string;
  readonly issued: string;
  readonly device: Reference;
  readonly component?: readonly ObservationComponent[];
  readonly note?: readonly { readonly text: string }[];
}

export interface Device {
  readonly resourceType: 'Device';
  readonly id: string;
  readonly identifier: readonly Identifier[];
  readonly deviceName?: readonly { readonly name: string; readonly type: 'user-friendly-name' }[];
  readonly type: CodeableConcept;
  readonly parent?: Reference;
}

export interface DeviceMetric {
  readonly resourceType: 'DeviceMetric';
  readonly id: string;
  readonly type: CodeableConcept;
  readonly unit: CodeableConcept;
  readonly source: Reference;
  readonly category: 'measurement';
}

export interface Patient {
  readonly resourceType: 'Patient';
  readonly id: string;
  readonly identifier: readonly Identifier[];
}

export interface ProvenanceEntity {
  readonly role: 'source';
  readonly what: Reference;
  readonly extension?: readonly Extension[];
}

export interface Provenance {
  readonly resourceType: 'Provenance';
  readonly id: string;
  readonly target: readonly Reference[];
  readonly recorded: string;
  readonly agent: readonly { readonly type: CodeableConcept; readonly who: Reference }[];
  readonly entity: readonly ProvenanceEntity[];
}

export interface Binary {
  readonly resourceType: 'Binary';
  readonly id: string;
  readonly contentType: string;
  /** base64. */
  readonly data: string;
}

export type Resource = Observation | Device | DeviceMetric | Patient | Provenance | Binary;
export type ResourceType = Resource['resourceType'];
