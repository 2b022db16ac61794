import { codeByMdc, unitSpec } from '../core/codes.js';
import type { Decimal } from '../core/decimal.js';
import type { Observation, Reading } from '../core/reading.js';
import { ReadingReason } from '../core/reading-errors.js';
import { DEFAULT_READING_LIMITS } from '../core/reading-schema.js';
import { topics } from '../core/submit.js';
import { encodePayload, type PayloadFormat } from './encode.js';

/**
 * Fault modes: what a broken or hostile device sends. Each builder returns the messages
 * and what core's decodeReading says about them (test/simulators/faults.test.ts runs
 * decodeReading on every one and checks). Topic and replay faults decode fine: only the
 * gateway, which knows the connection's identity and the seqs it holds, can catch them.
 */

export const FAULTS = [
  'garbage',
  'truncated',
  'out-of-range',
  'unknown-code',
  'wrong-unit',
  'oversize',
  'skew',
  'replay',
  'duplicate',
  'foreign-topic',
  'burst',
] as const;
export type FaultName = (typeof FAULTS)[number];

export function isFaultName(s: string): s is FaultName {
  return (FAULTS as readonly string[]).includes(s);
}

export interface Expectation {
  /** decodeReading's reason, given expectedDeviceId = the topic's id; undefined: decodes. */
  readonly reason: ReadingReason | undefined;
  /** Decodes with clockSkewed = true when receivedAt ≈ the device's true time. */
  readonly clockSkewed: boolean;
  /** What only the gateway can see: a topic not the connection's own, a seq it has. */
  readonly gatewayCheck?: 'acl' | 'replay' | 'duplicate';
}

export interface OutMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** The seq the payload carries; undefined when it carries none readable (garbage). */
  readonly seq: number | undefined;
  readonly fault: FaultName | undefined;
  readonly expect: Expectation;
}

export interface FaultOptions {
  /** Added to the device time by 'skew'. Default +10 min (core flags beyond 5 min). */
  readonly skewMs?: number;
  /** Messages in one 'burst', the scheduled one included. Default 20. */
  readonly burstSize?: number;
  /** Size 'oversize' exceeds. Default core's maxPayloadBytes (64 KiB). */
  readonly maxPayloadBytes?: number;
  /** Skew core flags (for the expectation). Default core's maxClockSkewMs. */
  readonly maxClockSkewMs?: number;
}

/** An MDC code of partition 2 that core's table does not hold (term 65535). */
export const UNKNOWN_CODE = 2 * 65536 + 65535;
if (codeByMdc(UNKNOWN_CODE) !== undefined) throw new TypeError('UNKNOWN_CODE is in the table');
/** A UCUM unit no code in the table allows. */
export const FOREIGN_UNIT = 'kg';

const OK: Expectation = { reason: undefined, clockSkewed: false };
const rejected = (reason: ReadingReason): Expectation => ({ reason, clockSkewed: false });

export function validMessage(r: Reading, format: PayloadFormat): OutMessage {
  return {
    topic: topics.deviceObs(r.deviceId),
    payload: encodePayload(r, format),
    seq: r.seq,
    fault: undefined,
    expect: OK,
  };
}

function faulty(
  r: Reading,
  fault: FaultName,
  payload: Uint8Array,
  expect: Expectation,
  seq: number | undefined = r.seq,
  topic = topics.deviceObs(r.deviceId),
): OutMessage {
  return { topic, payload, seq, fault, expect };
}

const malformed = (f: PayloadFormat) =>
  rejected(f === 'json' ? ReadingReason.MalformedJson : ReadingReason.MalformedCbor);

/** Random bytes behind a first byte that cannot start a payload of the format. */
export function garbage(r: Reading, format: PayloadFormat, rand: () => number): OutMessage {
  const bytes = new Uint8Array(16 + Math.floor(rand() * 48));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  // CBOR: 0x1c is a reserved head (RFC 8949 §3: additional information 28). JSON: '{'
  // makes the gateway read it as JSON, 0xff is never valid UTF-8.
  if (format === 'json') bytes.set([0x7b, 0xff]);
  else bytes[0] = 0x1c;
  return faulty(r, 'garbage', bytes, malformed(format), undefined);
}

/** A valid payload cut short: CBOR and JSON objects are prefix-free, so never valid. */
export function truncated(r: Reading, format: PayloadFormat, rand: () => number): OutMessage {
  const full = encodePayload(r, format);
  const cut = 1 + Math.floor(rand() * (full.length - 1));
  return faulty(r, 'truncated', full.slice(0, cut), malformed(format));
}

function replaceFirst(r: Reading, f: (o: Observation) => Observation): Reading {
  const [first, ...rest] = r.observations;
  if (first === undefined) return r;
  return { ...r, observations: [f(first), ...rest] };
}

/** Smallest sample count whose value (count × scale) exceeds max. */
function countAbove(max: Decimal, scale: Decimal): number {
  const e = max.exponent - scale.exponent;
  const num = BigInt(max.mantissa) * 10n ** BigInt(Math.max(0, e));
  const den = BigInt(scale.mantissa) * 10n ** BigInt(Math.max(0, -e));
  return Number(num / den) + 1;
}

/** The first observation just above its code's plausible maximum (one unit of its last digit). */
export function outOfRange(r: Reading, format: PayloadFormat): OutMessage {
  const bad = replaceFirst(r, (o) => {
    const entry = codeByMdc(o.code);
    const max = entry === undefined ? undefined : unitSpec(entry, o.unit)?.max;
    if (max === undefined) throw new TypeError(`no range for code ${o.code} in ${o.unit}`);
    if (o.kind === 'numeric') {
      return { ...o, value: { mantissa: max.mantissa + 1, exponent: max.exponent } };
    }
    const samples = Int16Array.from(o.samples);
    samples[Math.floor(samples.length / 2)] = countAbove(max, o.scale);
    return { ...o, samples };
  });
  return faulty(r, 'out-of-range', encodePayload(bad, format), rejected(ReadingReason.OutOfRange));
}

export function unknownCode(r: Reading, format: PayloadFormat): OutMessage {
  const bad = replaceFirst(r, (o) => ({ ...o, code: UNKNOWN_CODE }));
  return faulty(r, 'unknown-code', encodePayload(bad, format), rejected(ReadingReason.UnknownCode));
}

export function wrongUnit(r: Reading, format: PayloadFormat): OutMessage {
  const bad = replaceFirst(r, (o) => ({ ...o, unit: FOREIGN_UNIT }));
  return faulty(r, 'wrong-unit', encodePayload(bad, format), rejected(ReadingReason.UnitMismatch));
}

/** The reading plus a flat waveform long enough to exceed the payload limit. */
export function oversize(r: Reading, format: PayloadFormat, opts: FaultOptions = {}): OutMessage {
  const limit = opts.maxPayloadBytes ?? DEFAULT_READING_LIMITS.maxPayloadBytes;
  let n = Math.ceil(limit / 2) + 64;
  for (;;) {
    const pad: Observation = {
      kind: 'waveform',
      code: r.observations[0]?.code ?? UNKNOWN_CODE,
      samples: new Int16Array(n),
      periodUs: 4000,
      scale: { mantissa: 1, exponent: 0 },
      unit: 'mV',
    };
    const payload = encodePayload({ ...r, observations: [...r.observations, pad] }, format);
    if (payload.length > limit) {
      return faulty(r, 'oversize', payload, rejected(ReadingReason.PayloadTooLarge));
    }
    n *= 2;
  }
}

/** The reading with the device clock off by skewMs (flagged by the gateway, never refused). */
export function skew(r: Reading, format: PayloadFormat, opts: FaultOptions = {}): OutMessage {
  const skewMs = opts.skewMs ?? 10 * 60_000;
  const max = opts.maxClockSkewMs ?? DEFAULT_READING_LIMITS.maxClockSkewMs;
  const shifted = { ...r, deviceTime: r.deviceTime + skewMs };
  return faulty(r, 'skew', encodePayload(shifted, format), {
    reason: undefined,
    clockSkewed: Math.abs(skewMs) > max,
  });
}

/** The reading published on another device's topic: the gateway's ACL must refuse it. */
export function foreignTopic(r: Reading, format: PayloadFormat, otherId: string): OutMessage {
  return faulty(
    r,
    'foreign-topic',
    encodePayload(r, format),
    { ...rejected(ReadingReason.DeviceIdMismatch), gatewayCheck: 'acl' },
    r.seq,
    topics.deviceObs(otherId),
  );
}

/** A new reading under an earlier seq: decodes, but the gateway already holds that seq. */
export function replay(r: Reading, format: PayloadFormat, oldSeq: number): OutMessage {
  const again = { ...r, seq: oldSeq };
  return faulty(
    r,
    'replay',
    encodePayload(again, format),
    { ...OK, gatewayCheck: 'replay' },
    oldSeq,
  );
}

/**
 * The same bytes again under the same seq, as a device that missed a PUBACK resends: the
 * gateway must take it as the reading it already holds, not as a replay (DESIGN §2 dedup).
 */
export function duplicate(sent: OutMessage): OutMessage {
  return { ...sent, fault: 'duplicate', expect: { ...sent.expect, gatewayCheck: 'duplicate' } };
}

/** Valid readings sent back to back, as a device does when it flushes its buffer. */
export function burst(readings: readonly Reading[], format: PayloadFormat): OutMessage[] {
  return readings.map((r) => ({ ...validMessage(r, format), fault: 'burst' as const }));
}
