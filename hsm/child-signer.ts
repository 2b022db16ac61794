import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportP256Point, P256_POINT_BYTES, type PublicKeyExport } from './ec.js';
import { HsmCode, HsmError } from './errors.js';
import type { OpRequest, ParentMessage, WorkerMessage } from './signer-protocol.js';
import { assertKeyLabel } from './token.js';

/** The subset of a pino logger the signer writes to. */
export interface SignerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ChildSignerOptions {
  token: string;
  /** User PIN; handed to the child over IPC only. */
  pin: string;
  modulePath?: string | undefined;
  /** Keys the child opens at start; their public keys are then known without a round trip. */
  keys: string[];
  /** PKCS#11 sessions in the child for concurrent operations (default 4). */
  sessions?: number | undefined;
  /**
   * Sign on several sessions at once (for network HSMs that sign in parallel).
   * Default false: one C_Sign after another, which is faster for SoftHSM2 and
   * smartcards because the thread-pool hand-off costs more than the sign.
   */
  parallel?: boolean | undefined;
  /** A request not answered in this time fails and the child is replaced (default 10 s). */
  timeoutMs?: number | undefined;
  /** Attempts per request across child crashes (default 3). */
  maxAttempts?: number | undefined;
  /** Time allowed for the child to open the token (default 15 s). */
  startTimeoutMs?: number | undefined;
  logger?: SignerLogger | undefined;
}

interface Pending {
  req: OpRequest;
  attempts: number;
  resolve: (v: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const here = fileURLToPath(import.meta.url);
// Same extension as this file: .js when built, .ts under the test runner's loader.
const WORKER = here
  .slice(0, -extname(here).length)
  .replace(/child-signer$/, `signer-worker${extname(here)}`);

/**
 * Signs and derives on a token through a supervised child process, so a slow
 * token never blocks this event loop and a native crash never takes this
 * process down. On a crash the child is restarted and the requests it held are
 * retried (ECDSA signing is safe to repeat); after maxAttempts they fail with
 * HSM_SIGNER_CRASHED.
 *
 * Events: 'crash' ({ pid, code, signal, inFlight }), 'restart' ({ pid, restarts }).
 */
export class ChildSigner extends EventEmitter {
  readonly #opts: ChildSignerOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #queue: Pending[] = [];
  readonly #publicKeys = new Map<string, PublicKeyExport>();
  #child: ChildProcess | undefined;
  #ready = false;
  #closed = false;
  #nextId = 1;
  #restarts = 0;
  #backoffMs = 50;
  #restartTimer: NodeJS.Timeout | undefined;
  #flushScheduled = false;

  private constructor(opts: ChildSignerOptions) {
    super();
    this.#opts = opts;
  }

  /** Starts the child and opens the token; fails with the token's typed error (wrong PIN, ...). */
  static async start(opts: ChildSignerOptions): Promise<ChildSigner> {
    for (const k of opts.keys) assertKeyLabel(k);
    const signer = new ChildSigner(opts);
    await signer.#spawn();
    return signer;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** True while a child runs with the token open (false while it is restarted). */
  get up(): boolean {
    return this.#ready;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get inFlight(): number {
    return this.#pending.size + this.#queue.length;
  }

  publicKey(key: string): PublicKeyExport {
    const pk = this.#publicKeys.get(key);
    if (!pk) {
      throw new HsmError(
        HsmCode.KeyNotFound,
        `key '${key}' was not opened by this signer (options.keys)`,
      );
    }
    return pk;
  }

  signDigest(key: string, digest: Uint8Array): Promise<Uint8Array> {
    return this.#request('sign', key, digest, 32);
  }

  deriveSharedSecret(key: string, peerPoint: Uint8Array): Promise<Uint8Array> {
    return this.#request('derive', key, peerPoint, P256_POINT_BYTES);
  }

  #request(t: OpRequest['op'], key: string, data: Uint8Array, len: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new HsmError(HsmCode.Closed, 'signer is closed'));
    if (!(data instanceof Uint8Array) || data.length !== len) {
      return Promise.reject(new HsmError(HsmCode.BadInput, `${t} input: expected ${len} bytes`));
    }
    return new Promise((resolve, reject) => {
      const req: OpRequest = { op: t, id: this.#nextId++, key, data: Uint8Array.from(data) };
      const timeoutMs = this.#opts.timeoutMs ?? 10_000;
      const p: Pending = {
        req,
        attempts: 0,
        resolve,
        reject,
        timer: setTimeout(() => this.#timeout(p, timeoutMs), timeoutMs),
      };
      this.#queue.push(p);
      this.#scheduleFlush();
    });
  }

  #flush(): void {
    const child = this.#child;
    if (!this.#ready || !child || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0);
    for (const p of batch) {
      p.attempts += 1;
      this.#pending.set(p.req.id, p);
    }
    const msg: ParentMessage = { t: 'ops', ops: batch.map((p) => p.req) };
    child.send(msg);
  }

  /** Coalesces the requests of one event-loop turn into one IPC message. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (this.#closed) this.#emitDrained();
    return p;
  }

  #timeout(p: Pending, ms: number): void {
    const queued = this.#queue.indexOf(p);
    if (queued >= 0) this.#queue.splice(queued, 1);
    const wasSent = this.#pending.delete(p.req.id);
    p.reject(
      new HsmError(
        HsmCode.SignerTimeout,
        `token '${this.#opts.token}' did not answer a ${p.req.op} in ${ms} ms; check the token and its reader`,
      ),
    );
    // A request stuck inside the token holds a session: replace the child.
    if (wasSent) this.#child?.kill('SIGKILL');
  }

  #spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = fork(WORKER, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.#child = child;
      this.#ready = false;
      let starting = true;
      let startError: Error | undefined;
      const startTimer = setTimeout(() => {
        startError = new HsmError(
          HsmCode.SignerTimeout,
          `signer for token '${this.#opts.token}' did not open the token in time`,
        );
        child.kill('SIGKILL');
      }, this.#opts.startTimeoutMs ?? 15_000);

      child.on('message', (msg: WorkerMessage) => {
        switch (msg.t) {
          case 'ready':
            clearTimeout(startTimer);
            for (const k of msg.keys) this.#publicKeys.set(k.label, exportP256Point(k.point));
            starting = false;
            this.#ready = true;
            resolve();
            this.#flush();
            return;
          case 'init-failed':
            clearTimeout(startTimer);
            startError = new HsmError(msg.code as HsmCode, msg.message);
            child.kill('SIGKILL');
            return;
          case 'results':
            for (const r of msg.results) {
              const p = this.#settle(r.id);
              if (!p) continue;
              if (r.ok) p.resolve(r.result);
              else p.reject(new HsmError(r.code as HsmCode, r.message));
            }
            return;
        }
      });
      child.on('error', (err) => {
        startError ??= new HsmError(
          HsmCode.SignerCrashed,
          `cannot run the signer process: ${err.message}`,
          {
            cause: err,
          },
        );
      });
      child.on('exit', (code, signal) => {
        clearTimeout(startTimer);
        if (this.#child === child) {
          this.#child = undefined;
          this.#ready = false;
        }
        if (starting) {
          starting = false;
          reject(
            startError ??
              new HsmError(
                HsmCode.SignerCrashed,
                `signer process exited while opening token '${this.#opts.token}' (code ${code}, signal ${signal})`,
              ),
          );
          return;
        }
        this.#crashed(child.pid, code, signal);
      });
      const init: ParentMessage = {
        t: 'init',
        modulePath: this.#opts.modulePath,
        token: this.#opts.token,
        pin: this.#opts.pin,
        keys: this.#opts.keys,
        sessions: this.#opts.sessions ?? 4,
        parallel: this.#opts.parallel ?? false,
      };
      child.send(init);
    });
  }

  #crashed(pid: number | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    const held = [...this.#pending.values()];
    this.#pending.clear();
    if (this.#closed) {
      for (const p of held) this.#fail(p, new HsmError(HsmCode.Closed, 'signer closed'));
      this.#emitDrained();
      return;
    }
    const max = this.#opts.maxAttempts ?? 3;
    this.#opts.logger?.error(
      // `signerPid`: pino's own `pid` is this process's; a second `pid` key breaks JSON ingesters.
      { signerPid: pid, code, signal, inFlight: held.length, token: this.#opts.token },
      'HSM signer process died; restarting it and retrying its requests',
    );
    this.emit('crash', { pid, code, signal, inFlight: held.length });
    for (const p of held) {
      if (p.attempts >= max) {
        this.#fail(
          p,
          new HsmError(
            HsmCode.SignerCrashed,
            `the signer process for token '${this.#opts.token}' died ${p.attempts} times during this ${p.req.op}`,
          ),
        );
      } else {
        this.#queue.push(p);
      }
    }
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const delay = this.#backoffMs;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed) return;
      this.#spawn().then(
        () => {
          this.#restarts += 1;
          this.#backoffMs = 50;
          this.#opts.logger?.info(
            { signerPid: this.pid, restarts: this.#restarts },
            'HSM signer restarted',
          );
          this.emit('restart', { pid: this.pid, restarts: this.#restarts });
        },
        (err: Error) => {
          this.#backoffMs = Math.min(this.#backoffMs * 2, 5_000);
          this.#opts.logger?.error(
            { err, retryInMs: this.#backoffMs },
            'HSM signer could not be restarted; trying again',
          );
          this.#scheduleRestart();
        },
      );
    }, delay);
  }

  #fail(p: Pending, err: Error): void {
    clearTimeout(p.timer);
    p.reject(err);
  }

  #emitDrained(): void {
    if (this.#pending.size === 0) this.emit('drained');
  }

  /**
   * Stops accepting requests, lets those at the token finish (bounded by timeoutMs),
   * then ends the child, which closes its sessions.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    for (const p of this.#queue.splice(0))
      this.#fail(p, new HsmError(HsmCode.Closed, 'signer closed'));
    if (this.#pending.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#opts.timeoutMs ?? 10_000);
        this.once('drained', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const child = this.#child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (child.connected) child.disconnect();
      else child.kill('SIGKILL');
    });
  }
}
