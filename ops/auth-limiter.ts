/**
 * Failed-authentication limits shared by the gateway's device broker and the notary's
 * broker: a source address that keeps failing is refused before any authentication
 * work (back-off doubling per offence), and a global budget of failures per second
 * marks a storm. While a storm lasts, every address with a recent failure is refused at
 * its first byte, and expensive checks (scrypt) are refused outright, so that the work
 * an attacker can cause stays bounded while devices that do not fail keep connecting.
 *
 * Addresses are grouped as an operator would block them: IPv4 by address, IPv6 by /64.
 * Devices behind one NAT share an address: one misconfigured device there backs off
 * the others too (docs/GATEWAY.md recommends client certificates for such sites).
 */

export interface AuthLimiterOptions {
  /** Failures an address may have within `windowMs` before it is backed off (default 5). */
  readonly failuresPerAddress?: number;
  readonly windowMs?: number;
  /** First back-off (default 1 s), doubled at each further offence up to `maxBackoffMs` (60 s). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Failures per second, over all addresses, above which a storm is declared (default 50). */
  readonly globalFailuresPerSecond?: number;
  /** Addresses tracked at most; past that the oldest entries are forgotten (default 10,000). */
  readonly maxAddresses?: number;
  readonly now?: () => number;
}

interface AddressState {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  offences: number;
  lastFailure: number;
}

/** An IPv4 address as is, an IPv6 one by its /64 prefix, an IPv4-mapped one as IPv4. */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (v4) return v4[1]!;
  if (!remote.includes(':')) return remote;
  const [head = '', tail = ''] = remote.split('::');
  const groups = head.split(':').filter((g) => g !== '');
  const tailGroups = tail.split(':').filter((g) => g !== '');
  const missing = 8 - groups.length - tailGroups.length;
  const full = [...groups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${full.slice(0, 4).join(':')}::/64`;
}

export class AuthLimiter {
  readonly #perAddress: number;
  readonly #windowMs: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #globalRate: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  readonly #addresses = new Map<string, AddressState>();
  /** Token bucket of failures (capacity one second's budget). */
  #tokens: number;
  #refilledAt: number;
  #stormUntil = 0;

  constructor(o: AuthLimiterOptions = {}) {
    this.#perAddress = o.failuresPerAddress ?? 5;
    this.#windowMs = o.windowMs ?? 10_000;
    this.#backoffMs = o.backoffMs ?? 1000;
    this.#maxBackoffMs = o.maxBackoffMs ?? 60_000;
    this.#globalRate = o.globalFailuresPerSecond ?? 50;
    this.#maxAddresses = o.maxAddresses ?? 10_000;
    this.#now = o.now ?? Date.now;
    this.#tokens = this.#globalRate;
    this.#refilledAt = this.#now();
  }

  /** Milliseconds this address must still wait; 0 when it may try to authenticate. */
  blockedFor(remote: string | undefined): number {
    const now = this.#now();
    const s = this.#addresses.get(addressKey(remote));
    if (!s) return 0;
    if (s.blockedUntil > now) return s.blockedUntil - now;
    // During a storm an address that failed lately waits like a backed-off one.
    if (this.storm && now - s.lastFailure < this.#windowMs) return this.#stormUntil - now;
    return 0;
  }

  /** True while failures over all addresses exceed the global budget (and 1 s after). */
  get storm(): boolean {
    return this.#stormUntil > this.#now();
  }

  /** Records a failed authentication from this address. */
  failed(remote: string | undefined): void {
    const now = this.#now();
    this.#refill(now);
    this.#tokens -= 1;
    if (this.#tokens < 0) {
      this.#tokens = 0;
      this.#stormUntil = now + 1000;
    }
    const key = addressKey(remote);
    let s = this.#addresses.get(key);
    if (!s) {
      if (this.#addresses.size >= this.#maxAddresses) this.#forgetOldest(now);
      s = { failures: 0, windowStart: now, blockedUntil: 0, offences: 0, lastFailure: now };
      this.#addresses.set(key, s);
    }
    if (now - s.windowStart > this.#windowMs) {
      s.failures = 0;
      s.windowStart = now;
    }
    s.failures += 1;
    s.lastFailure = now;
    if (s.failures >= this.#perAddress) {
      const backoff = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** s.offences);
      s.offences += 1;
      s.blockedUntil = now + backoff;
      s.failures = 0;
      s.windowStart = now;
    }
  }

  /** A successful authentication clears the address's failures (not its current back-off). */
  succeeded(remote: string | undefined): void {
    const s = this.#addresses.get(addressKey(remote));
    if (s && s.blockedUntil <= this.#now()) this.#addresses.delete(addressKey(remote));
  }

  /** Addresses currently backed off (a gauge). */
  backedOff(): number {
    const now = this.#now();
    let n = 0;
    for (const s of this.#addresses.values()) if (s.blockedUntil > now) n++;
    return n;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.#globalRate, this.#tokens + (elapsed * this.#globalRate) / 1000);
    this.#refilledAt = now;
  }

  #forgetOldest(now: number): void {
    for (const [k, s] of this.#addresses) {
      if (s.blockedUntil <= now) this.#addresses.delete(k);
      if (this.#addresses.size < this.#maxAddresses * 0.9) return;
    }
    // All backed off: forget in insertion order.
    for (const k of this.#addresses.keys()) {
      this.#addresses.delete(k);
      if (this.#addresses.size < this.#maxAddresses * 0.9) return;
    }
  }
}
