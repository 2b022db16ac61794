import { CHAIN_HEIGHT_URL, CLOCK_SKEW_URL } from './canonical.js';

/**
 * The StructureDefinitions of medchain's own FHIR extensions (R4, differential form).
 * Shipped here, served by every notary at GET /fhir/StructureDefinition/{id}
 * (broker/http-api.ts) and documented in docs/FHIR.md.
 */

interface ExtensionDefinition {
  readonly id: string;
  readonly url: string;
  readonly title: string;
  readonly description: string;
  readonly context: string;
  readonly valueType: 'Quantity' | 'unsignedInt';
}

const DEFINITIONS: readonly ExtensionDefinition[] = [
  {
    id: 'clock-skew',
    url: CLOCK_SKEW_URL,
    title: 'Device clock skew',
    description:
      'Device time minus gateway receive time (UCUM ms), present when its magnitude exceeds the allowed skew; effectiveDateTime stays the device time, uncorrected.',
    context: 'Observation',
    valueType: 'Quantity',
  },
  {
    id: 'chain-height',
    url: CHAIN_HEIGHT_URL,
    title: 'Chain height',
    description:
      "The height of the block's entry in the notary's hash chain (RFC 9162 log index + 1), as its receipt states.",
    context: 'Provenance.entity',
    valueType: 'unsignedInt',
  },
];

export function structureDefinition(d: ExtensionDefinition): Record<string, unknown> {
  return {
    resourceType: 'StructureDefinition',
    id: d.id,
    url: d.url,
    name: d.id.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()),
    title: d.title,
    status: 'active',
    publisher: 'medchain',
    description: d.description,
    fhirVersion: '4.0.1',
    kind: 'complex-type',
    abstract: false,
    context: [{ type: 'element', expression: d.context }],
    type: 'Extension',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Extension',
    derivation: 'constraint',
    differential: {
      element: [
        { id: 'Extension', path: 'Extension', short: d.title, definition: d.description, max: '1' },
        { id: 'Extension.extension', path: 'Extension.extension', max: '0' },
        { id: 'Extension.url', path: 'Extension.url', fixedUri: d.url },
        {
          id: 'Extension.value[x]',
          path: 'Extension.value[x]',
          min: 1,
          type: [{ code: d.valueType }],
        },
      ],
    },
  };
}

/** Every definition by id. */
export const STRUCTURE_DEFINITIONS: ReadonlyMap<string, Record<string, unknown>> = new Map(
  DEFINITIONS.map((d) => [d.id, structureDefinition(d)]),
);
