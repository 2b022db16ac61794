import { SID } from './canonical.js';
import { deviceId, gatewayDeviceId, metricId, notaryDeviceId, patientId } from './ids.js';
import { type MetricKey, type SealedReading, unitIndex } from './observation.js';
import type { Device, DeviceMetric, Patient } from './resources.js';
import {
  BP_PANEL,
  BP_PANEL_MDC,
  conceptOf,
  DEVICE_TYPE_BY_MDC,
  entryOf,
  GATEWAY_TYPE,
  UCUM,
  unitDisplay,
} from './terminology.js';

/**
 * The Device, DeviceMetric and Patient resources an export's Observations and
 * Provenances point at, each made once, as the HL7 Point-of-Care Device IG models
 * them: a Device per device (typed by its IEEE 11073 specialization, the gateway as its
 * parent), a DeviceMetric per quantity it measures (Observation.device), the gateway and
 * the notary as Devices (Provenance agents). Patients carry the clinic's reference only:
 * the gateway knows no demographics.
 */
export class DeviceRegistry {
  readonly #devices = new Map<string, Device>();
  readonly #metrics = new Map<string, DeviceMetric>();
  readonly #patients = new Map<string, Patient>();
  readonly #patientSystem: string;

  constructor(patientSystem: string = SID.patient) {
    this.#patientSystem = patientSystem;
  }

  gateway(id: string): string {
    return this.#device({
      resourceType: 'Device',
      id: gatewayDeviceId(id),
      identifier: [{ system: SID.gateway, value: id }],
      deviceName: [{ name: id, type: 'user-friendly-name' }],
      type: { coding: [GATEWAY_TYPE], text: 'medchain gateway' },
    });
  }

  notary(id: string): string {
    return this.#device({
      resourceType: 'Device',
      id: notaryDeviceId(id),
      identifier: [{ system: SID.notary, value: id }],
      deviceName: [{ name: id, type: 'user-friendly-name' }],
      type: { text: 'medchain notary (hash chain and receipts)' },
    });
  }

  /** The reading's device (parent: the gateway that sealed it first) and patient. */
  reading(s: SealedReading, gatewayId: string): void {
    const r = s.reading;
    if (!this.#devices.has(deviceId(r.deviceId))) {
      const first = r.observations[0]?.code;
      const type = first === undefined ? undefined : DEVICE_TYPE_BY_MDC.get(first);
      this.#device({
        resourceType: 'Device',
        id: deviceId(r.deviceId),
        identifier: [{ system: SID.device, value: r.deviceId }],
        deviceName: [{ name: r.deviceId, type: 'user-friendly-name' }],
        type: type === undefined ? { text: 'medical device' } : { coding: [type] },
        parent: { reference: `Device/${this.gateway(gatewayId)}` },
      });
    }
    const pid = patientId(r.patient);
    if (!this.#patients.has(pid)) {
      this.#patients.set(pid, {
        resourceType: 'Patient',
        id: pid,
        identifier: [{ system: this.#patientSystem, value: r.patient }],
      });
    }
  }

  metric(m: MetricKey): void {
    const id = metricId(m.deviceId, m.mdc, unitIndex(m));
    if (this.#metrics.has(id)) return;
    const c = m.mdc === BP_PANEL_MDC ? BP_PANEL : conceptOf(entryOf(m.mdc), m.ucum);
    this.#metrics.set(id, {
      resourceType: 'DeviceMetric',
      id,
      type: { coding: [...c.coding], text: c.text },
      unit: { coding: [{ system: UCUM, code: m.ucum, display: unitDisplay(m.ucum) }] },
      source: { reference: `Device/${deviceId(m.deviceId)}` },
      category: 'measurement',
    });
  }

  get devices(): Device[] {
    return [...this.#devices.values()];
  }
  get metrics(): DeviceMetric[] {
    return [...this.#metrics.values()];
  }
  get patients(): Patient[] {
    return [...this.#patients.values()];
  }

  #device(d: Device): string {
    if (!this.#devices.has(d.id)) this.#devices.set(d.id, d);
    return d.id;
  }
}
