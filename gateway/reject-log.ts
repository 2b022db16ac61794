import type { Logger } from '../ops/log.js';

/**
 * Logs a device's refusals at most once per interval: the first one, then one line per
 * interval with how many were suppressed. A device sending garbage at line rate costs a
 * counter increment, not a log line (the metrics still count every one).
 */
export class RejectLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #seen = new Map<string, { last: number; suppressed: number }>();
  readonly #maxKeys: number;

  constructor(log: Logger, intervalMs: number, maxKeys = 10_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  warn(key: string, fields: Record<string, unknown>, msg: string, now = Date.now()): boolean {
    const s = this.#seen.get(key);
    if (s && now - s.last < this.#intervalMs) {
      s.suppressed++;
      return false;
    }
    if (!s && this.#seen.size >= this.#maxKeys) this.#seen.clear();
    this.#log.warn({ ...fields, suppressed: s?.suppressed ?? 0 }, msg);
    this.#seen.set(key, { last: now, suppressed: 0 });
    return true;
  }
}
