/**
 * The notary and the gateway as operators run them: the built CLI (`dist/cli/main.js`),
 * config files, a Trent PKI and SoftHSM tokens (test/helpers/pki.ts). Each service runs
 * in a process group of its own (`detached`), as under systemd, so a test can signal
 * the whole group and check that nothing of it (the HSM signer child included) is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestPki, PARTICIPANT_TOKEN, type TestPki } from '../helpers/pki.js';
import { USER_PIN } from '../helpers/softhsm.js';

export const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

type Teardown = { teardown(fn: () => unknown): void };

/** A generous bound: the suite runs on a loaded two-core machine. */
export const EXIT_BOUND_MS = 60_000;

export interface Proc {
  readonly child: ChildProcess;
  /** Every stderr line so far. */
  readonly lines: string[];
  /** Exit code (null when killed by a signal), and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr JSON line (seen or to come) whose msg is `msg`. */
  line(msg: string): Promise<Record<string, unknown>>;
}

export function runCli(t: Teardown, args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, MEDCHAIN_HSM_PIN: USER_PIN, MEDCHAIN_LOG_LEVEL: 'info' },
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  t.teardown(() => {
    if (groupAlive(child.pid)) process.kill(-(child.pid ?? 0), 'SIGKILL');
  });
  const lines: string[] = [];
  const waiting: { msg: string; resolve: (j: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    lines.push(l);
    if (!l.startsWith('{')) return;
    const j = JSON.parse(l) as Record<string, unknown>;
    for (const w of waiting.filter((w) => w.msg === j.msg)) w.resolve(j);
  });
  return {
    child,
    lines,
    exited,
    line: (msg) =>
      new Promise((resolve, reject) => {
        const seen = lines.find((l) => l.startsWith('{') && JSON.parse(l).msg === msg);
        if (seen) return resolve(JSON.parse(seen) as Record<string, unknown>);
        waiting.push({ msg, resolve });
        exited.then(({ code, signal }) =>
          reject(new Error(`exited (${code}, ${signal}) before '${msg}':\n${lines.join('\n')}`)),
        );
      }),
  };
}

/** True while any process of the group led by `pid` exists. */
export function groupAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for an observable condition (not a clock), bounded. */
export async function until(what: string, check: () => boolean, ms = EXIT_BOUND_MS) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function exitWithin(p: Proc, ms = EXIT_BOUND_MS) {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running after ${ms} ms:\n${p.lines.join('\n')}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Kit {
  readonly pki: TestPki;
  readonly dir: string;
  /** Writes notary.json (overrides merged at the top level) and returns its path. */
  notaryConfig(extra?: Record<string, unknown>): string;
  /** Writes gateway.json pointing at a notary MQTT port, and returns its path. */
  gatewayConfig(notaryMqttPort: number, extra?: Record<string, unknown>): string;
}

export async function serviceKit(t: Teardown): Promise<Kit> {
  const pki = await createTestPki(t);
  const notary = await pki.participant('notary', 'notary-1');
  const gw = await pki.participant('gateway', 'gw-1');
  const dir = pki.dir;
  const reader = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  writeFileSync(join(dir, 'reader.pem'), reader.export({ format: 'pem', type: 'spki' }));
  let n = 0;
  return {
    pki,
    dir,
    notaryConfig(extra = {}) {
      const file = join(dir, `notary-${++n}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          notaryId: 'notary-1',
          db: join(dir, `notary-${n}.db`),
          token: { label: PARTICIPANT_TOKEN, key: 'notary-1' },
          signingCert: notary.signing.path,
          tls: { key: notary.tls.keyPath, cert: notary.tls.path },
          trust: { root: pki.rootPath },
          certificates: [gw.signing.path],
          mqtt: { host: '127.0.0.1', port: 0 },
          http: { host: '127.0.0.1', port: 0 },
          checkpoint: { everyEntries: 10, everyMs: 500 },
          ...extra,
        }),
      );
      return file;
    },
    gatewayConfig(notaryMqttPort, extra = {}) {
      const file = join(dir, `gateway-${++n}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          gatewayId: 'gw-1',
          db: join(dir, `gateway-${n}.db`),
          certificate: gw.signing.path,
          root: pki.rootPath,
          hsm: { token: PARTICIPANT_TOKEN, key: 'gw-1' },
          readers: [{ kid: 'reader-1', publicKey: join(dir, 'reader.pem') }],
          devices: { host: '127.0.0.1', port: 0 },
          http: { host: '127.0.0.1', port: 0 },
          batch: { maxReadings: 50, maxDelayMs: 100 },
          notary: {
            id: 'notary-1',
            url: `mqtts://127.0.0.1:${notaryMqttPort}`,
            certificate: notary.signing.path,
            tls: { cert: gw.tls.path, key: gw.tls.keyPath, ca: pki.rootPath },
            retryMs: 200,
            drainOnShutdownMs: 2000,
          },
          ...extra,
        }),
      );
      return file;
    },
  };
}
