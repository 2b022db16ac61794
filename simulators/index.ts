/**
 * Device simulators and the load generator (docs/SIMULATORS.md). What the demo, the
 * benchmark and tests import; everything here uses only core's reading model.
 */
export { DeviceClient, type DeviceClientEvents, type DeviceClientOptions } from './client.js';
export { type Credentials, CredentialsError, parseCredentials } from './credentials.js';
export { type Clock, type DeviceSpec, SimDevice, type SimDeviceOptions } from './device.js';
export { DeviceEmitter, type EmitterOptions, type FaultRates } from './emitter.js';
export { encodePayload, type PayloadFormat, readingToJson } from './encode.js';
export { DEFAULT_EVENTS, EVENT_KINDS, type EventConfig, type EventKind } from './events.js';
export {
  type Expectation,
  FAULTS,
  type FaultName,
  type FaultOptions,
  isFaultName,
  type OutMessage,
} from './faults.js';
export { type FleetHandle, type FleetOptions, planDevices, startFleet } from './fleet.js';
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export {
  DEVICE_KINDS,
  type DeviceKind,
  isDeviceKind,
  KIND_NAMES,
  KIND_PERIOD_MS,
} from './kinds.js';
export { Patient, type Vitals } from './patient.js';
export type { Counters, DeviceStats, FaultCounts, FleetStats } from './stats.js';
