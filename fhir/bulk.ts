import type { OpenedBlock } from './blocks.js';
import { DeviceRegistry } from './devices.js';
import { readingIdOf } from './ids.js';
import { type Mapped, type MappingOptions, numericObservations } from './observation.js';
import type { ProofMaker } from './proofs.js';
import { proofBinary, provenanceOf, receiptBinary } from './provenance.js';
import type { Binary, Observation, Provenance, Resource, ResourceType } from './resources.js';
import { StripBuilder } from './strip.js';

/**
 * The whole FHIR export of a reader's opened blocks, by resource type (FHIR Bulk Data:
 * one NDJSON file per type). Every reference it writes resolves inside it: the
 * Observations' DeviceMetrics and Patients, the Devices' gateway parents, the
 * Provenances' targets, agents and Binaries.
 */

interface BlockNote {
  readonly block: OpenedBlock;
  readonly proven: readonly string[];
}

export class BulkExport {
  readonly #registry: DeviceRegistry;
  readonly #strips: StripBuilder;
  readonly #opts: MappingOptions;
  readonly #proofs: ProofMaker;
  readonly #observations: Observation[] = [];
  readonly #binaries: Binary[] = [];
  readonly #blocks: BlockNote[] = [];
  /** Reading id → ids of the Observations carrying it. */
  readonly #carriers = new Map<string, string[]>();
  clockSkewed = 0;

  constructor(proofs: ProofMaker, opts: MappingOptions = {}) {
    this.#registry = new DeviceRegistry(opts.patientSystem);
    this.#strips = new StripBuilder(opts);
    this.#opts = opts;
    this.#proofs = proofs;
  }

  /** Adds a block this reader opened, in chain order. */
  add(b: OpenedBlock): void {
    this.#registry.gateway(b.header.gatewayId);
    this.#registry.notary(b.notaryId);
    const proofs = this.#proofs.proofs(b);
    const proven: string[] = [];
    for (const [i, s] of b.readings.entries()) {
      this.#registry.reading(s, b.header.gatewayId);
      this.#take(numericObservations(s, this.#opts));
      this.#take(this.#strips.add(s));
      const proof = proofs[i];
      if (proof !== undefined) {
        const id = readingIdOf(s.reading);
        this.#binaries.push(proofBinary(id, proof));
        proven.push(id);
      }
    }
    if (b.receipt !== undefined) {
      this.#binaries.push(receiptBinary(b.notaryId, b.height, b.receipt));
    }
    this.#blocks.push({ block: b, proven });
  }

  /** Closes the open strips; the resources by type, referenced types first (output order). */
  finish(): Map<ResourceType, Resource[]> {
    this.#take(this.#strips.finish());
    const provenances: Provenance[] = this.#blocks.map(({ block: b, proven }) => {
      const targets = new Set<string>();
      for (const s of b.readings) {
        for (const id of this.#carriers.get(readingIdOf(s.reading)) ?? []) targets.add(id);
      }
      return provenanceOf({
        notaryId: b.notaryId,
        height: b.height,
        registeredAt: b.entry.registeredAt,
        gatewayDevice: this.#registry.gateway(b.header.gatewayId),
        notaryDevice: this.#registry.notary(b.notaryId),
        receipt: b.receipt,
        targets: [...targets],
        proven,
      });
    });
    const out = new Map<ResourceType, Resource[]>([
      ['Patient', this.#registry.patients],
      ['Device', this.#registry.devices],
      ['DeviceMetric', this.#registry.metrics],
      ['Observation', this.#observations],
      ['Provenance', provenances],
      ['Binary', this.#binaries],
    ]);
    return out;
  }

  get observations(): number {
    return this.#observations.length;
  }

  #take(ms: readonly Mapped[]): void {
    for (const m of ms) {
      this.#registry.metric(m.metric);
      this.#observations.push(m.observation);
      if (m.observation.extension !== undefined) this.clockSkewed += 1;
      for (const s of m.readings) {
        const id = readingIdOf(s.reading);
        const list = this.#carriers.get(id);
        if (list === undefined) this.#carriers.set(id, [m.observation.id]);
        else list.push(m.observation.id);
      }
    }
  }
}
