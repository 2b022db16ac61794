import { between, hashSeed, mulberry32 } from './random.js';

/**
 * Occasional physiological events. Time is cut into slots; each slot holds at most one
 * event, drawn from the patient's seed and the slot number alone, so an event is the same
 * whichever device asks and whenever it asks (no shared state between devices).
 */

export const EVENT_KINDS = [
  'desaturation',
  'tachycardia',
  'hypertension',
  'fever',
  'hypoglycaemia',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface EventConfig {
  /** Slot length in ms; an event lies wholly inside its slot. Default 20 min. */
  readonly slotMs: number;
  /** Chance that a slot holds an event, 0..1. Default 0.3. */
  readonly probability: number;
  /** Restrict to these kinds (default all). */
  readonly kinds?: readonly EventKind[];
}

export const DEFAULT_EVENTS: EventConfig = Object.freeze({ slotMs: 20 * 60_000, probability: 0.3 });

export interface PhysioEvent {
  readonly kind: EventKind;
  readonly startMs: number;
  readonly endMs: number;
  /** Size of the excursion, 0.6..1 of the kind's span (see patient.ts). */
  readonly severity: number;
}

/** Duration of each kind as a fraction of the slot: [min, max]. */
const DURATION: Record<EventKind, readonly [number, number]> = {
  desaturation: [0.05, 0.15],
  tachycardia: [0.1, 0.35],
  hypertension: [0.25, 0.6],
  fever: [0.6, 0.9],
  hypoglycaemia: [0.25, 0.5],
};

/** The event of slot `k`, if it has one. */
export function eventInSlot(seed: number, k: number, cfg: EventConfig): PhysioEvent | undefined {
  const rand = mulberry32(hashSeed(seed, 'event', k));
  if (rand() >= cfg.probability) return undefined;
  const kinds = cfg.kinds ?? EVENT_KINDS;
  if (kinds.length === 0) return undefined;
  const kind = kinds[Math.floor(rand() * kinds.length)]!;
  const [lo, hi] = DURATION[kind];
  const duration = cfg.slotMs * between(rand, lo, hi);
  const startMs = k * cfg.slotMs + (cfg.slotMs - duration) * rand();
  return { kind, startMs, endMs: startMs + duration, severity: between(rand, 0.6, 1) };
}

/**
 * How far into its event a moment is: 0 outside, rising smoothly to 1 over the first
 * fifth, holding, and falling back over the last fifth (raised cosine, so vitals move
 * continuously into and out of an event).
 */
export function envelope(e: PhysioEvent, tMs: number): number {
  if (tMs <= e.startMs || tMs >= e.endMs) return 0;
  const ramp = (e.endMs - e.startMs) / 5;
  const x = Math.min(tMs - e.startMs, e.endMs - tMs) / ramp;
  return x >= 1 ? 1 : (1 - Math.cos(Math.PI * x)) / 2;
}

/** Level (envelope × severity) of each kind active at tMs; kinds not active are absent. */
export function eventLevels(
  seed: number,
  tMs: number,
  cfg: EventConfig,
): Partial<Record<EventKind, number>> {
  const e = eventInSlot(seed, Math.floor(tMs / cfg.slotMs), cfg);
  if (e === undefined) return {};
  const level = envelope(e, tMs) * e.severity;
  return level > 0 ? { [e.kind]: level } : {};
}
