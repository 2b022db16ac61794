import { HsmCode, HsmError } from './errors.js';
import type { Handle } from './module.js';

/**
 * A fixed set of logged-in sessions. A PKCS#11 session runs one operation at a
 * time (C_SignInit..C_Sign), so concurrency comes from lending whole sessions.
 */
export class SessionPool {
  readonly #free: Handle[];
  readonly #waiters: { resolve: (s: Handle) => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  constructor(sessions: Handle[]) {
    this.#free = [...sessions];
  }

  acquire(): Promise<Handle> {
    if (this.#closed) return Promise.reject(closedError());
    const s = this.#free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  release(session: Handle): void {
    const next = this.#waiters.shift();
    if (next) next.resolve(session);
    else this.#free.push(session);
  }

  async use<T>(fn: (session: Handle) => Promise<T>): Promise<T> {
    const s = await this.acquire();
    try {
      return await fn(s);
    } finally {
      this.release(s);
    }
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(closedError());
  }
}

function closedError(): HsmError {
  return new HsmError(
    HsmCode.Closed,
    'The token was closed while an operation was waiting for it.',
  );
}
