/**
 * A small queue for expensive authentication work (scrypt on libuv's thread pool,
 * certificate validation): at most `concurrency` jobs run, at most `maxWaiting` wait,
 * and a waiting job whose connection went away is dropped before it costs anything.
 * Past the bound a job is refused at once (QueueFullError): the caller answers
 * "server unavailable" and the device retries later, instead of every CONNECT of a
 * flood queuing in front of the real devices.
 */

export class QueueFullError extends Error {
  readonly code = 'AUTH_QUEUE_FULL';
  constructor() {
    super('authentication queue full');
  }
}

export class QueueAbortedError extends Error {
  readonly code = 'AUTH_QUEUE_ABORTED';
  constructor() {
    super('authentication cancelled: the connection closed');
  }
}

interface Waiter {
  start: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class BoundedQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: Waiter[] = [];
  /** Jobs refused because the queue was full, and waiting jobs cancelled. */
  refused = 0;
  cancelled = 0;

  constructor(concurrency: number, maxWaiting: number) {
    if (!(concurrency >= 1)) throw new RangeError('concurrency: at least 1');
    if (!(maxWaiting >= 0)) throw new RangeError('maxWaiting: at least 0');
    this.#concurrency = concurrency;
    this.#maxWaiting = maxWaiting;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** True while a new job would be refused. */
  get saturated(): boolean {
    return this.#running >= this.#concurrency && this.#waiting.length >= this.#maxWaiting;
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      this.cancelled++;
      throw new QueueAbortedError();
    }
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxWaiting) {
        this.refused++;
        throw new QueueFullError();
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', w.onAbort);
            resolve();
          },
          signal,
          onAbort: () => {
            const i = this.#waiting.indexOf(w);
            if (i >= 0) this.#waiting.splice(i, 1);
            this.cancelled++;
            reject(new QueueAbortedError());
          },
        };
        signal?.addEventListener('abort', w.onAbort, { once: true });
        this.#waiting.push(w);
      });
      // The finishing job handed its slot over: #running already counts this one.
    } else {
      this.#running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next.start();
      else this.#running--;
    }
  }
}
