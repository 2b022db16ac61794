/**
 * Seeded, reproducible randomness for the signal models. Math.random never appears in
 * simulators/: the same seed gives the same patient, the same events and the same bytes.
 */

/** Scratch for the decimal digits of a safe integer (at most 16). */
const DIGITS = new Array<number>(16).fill(0);

/** A uint32 from any mix of numbers and strings (FNV-1a over the parts, then a finaliser). */
export function hashSeed(...parts: readonly (number | string)[]): number {
  let h = 0x811c9dc5;
  const mix = (byte: number) => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  const mixChar = (c: number) => {
    mix(c);
    mix(c >>> 8);
  };
  for (const p of parts) {
    if (typeof p === 'number' && Number.isSafeInteger(p)) {
      // The characters of `#${p}` without building the string: an ECG frame hashes
      // hundreds of integers, and the string made this the load generator's hot spot.
      mixChar(0x23);
      if (p < 0) mixChar(0x2d);
      const digits = DIGITS;
      let n = Math.abs(p);
      let len = 0;
      do {
        digits[len++] = n % 10;
        n = Math.floor(n / 10);
      } while (n > 0);
      while (len > 0) mixChar(0x30 + digits[--len]!);
    } else {
      const text = typeof p === 'number' ? `#${p}` : `$${p}`;
      for (let i = 0; i < text.length; i++) mixChar(text.charCodeAt(i));
    }
    mix(0x1f);
  }
  // murmur3 fmix32: FNV alone leaves low bits poorly mixed for short inputs.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: a tiny 32-bit PRNG; returns uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform float in [0, 1) that depends only on its arguments (no generator state). */
export function uniformAt(...parts: readonly (number | string)[]): number {
  return mulberry32(hashSeed(...parts))();
}

/** Uniform in [lo, hi) from a generator. */
export function between(rand: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rand();
}

/**
 * Smooth value noise in [-1, 1]: random knots every `periodMs`, joined by a cosine
 * curve, so the signal is continuous with a continuous slope at any query time and needs
 * no state: any device may ask for any moment in any order and get the same value.
 */
export function smoothNoise(seed: number, tMs: number, periodMs: number): number {
  const x = tMs / periodMs;
  const k = Math.floor(x);
  const f = x - k;
  const a = uniformAt(seed, k) * 2 - 1;
  const b = uniformAt(seed, k + 1) * 2 - 1;
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * w;
}

/**
 * smoothNoise of one seed and period that keeps its current pair of knots: a waveform
 * asks for hundreds of moments between two knots. Same values as smoothNoise.
 */
export class SmoothNoise {
  readonly #seed: number;
  readonly #periodMs: number;
  #k = Number.NaN;
  #a = 0;
  #b = 0;

  constructor(seed: number, periodMs: number) {
    this.#seed = seed;
    this.#periodMs = periodMs;
  }

  at(tMs: number): number {
    const x = tMs / this.#periodMs;
    const k = Math.floor(x);
    if (k !== this.#k) {
      this.#k = k;
      this.#a = uniformAt(this.#seed, k) * 2 - 1;
      this.#b = uniformAt(this.#seed, k + 1) * 2 - 1;
    }
    const w = (1 - Math.cos(Math.PI * (x - k))) / 2;
    return this.#a + (this.#b - this.#a) * w;
  }
}
