/**
 * The gateway as an operator runs it, for tests that need the whole process (readiness,
 * shutdown, locks): the built CLI, a config file in a temp dir, a SoftHSM token, a notary
 * responder, readiness read over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { USER_PIN } from '../helpers/softhsm.js';
import { within } from './helpers.js';
import { NotaryResponder } from './notary-responder.js';
import { pki } from './pki.js';

type Teardown = { teardown(fn: () => unknown): void };

export const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface Running {
  child: ChildProcess;
  devicesPort: number;
  httpPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every stderr line (pino JSON) the process wrote so far. */
  lines: string[];
  /** The notary stand-in this gateway submits to. */
  responder: NotaryResponder;
  readyz(): Promise<{ status: number; body: { ok: boolean; reasons?: string[] } }>;
}

export async function cliKit(t: Teardown) {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first`);
  const p = await pki(t);
  const dir = p.dir;
  const env = { ...process.env, MEDCHAIN_HSM_PIN: USER_PIN, MEDCHAIN_LOG_LEVEL: 'info' };
  writeFileSync(join(dir, 'root.pem'), p.rootPem);
  writeFileSync(join(dir, 'gw.pem'), p.gwPem);
  writeFileSync(join(dir, 'notary.pem'), p.notaryPem);
  writeFileSync(
    join(dir, 'reader.pem'),
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(p.reader.publicKey.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(p.reader.publicKey.subarray(33)).toString('base64url'),
      },
      format: 'jwk',
    }).export({ format: 'pem', type: 'spki' }),
  );
  /** A notary stand-in of its own for each gateway database (it keeps the chain of one). */
  const newResponder = async () => {
    const r = new NotaryResponder({
      notaryId: p.notaryId,
      gatewayId: p.gatewayId,
      gatewayKey: p.gwPublicKey,
      signer: p.notarySigner,
      wrongSigner: p.notarySigner,
    });
    await r.start();
    t.teardown(() => r.stop());
    return r;
  };

  let n = 0;
  const config = (extra: object, responder: NotaryResponder): string => {
    const file = join(dir, `gateway-${++n}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        gatewayId: p.gatewayId,
        db: 'gateway.db',
        certificate: 'gw.pem',
        root: 'root.pem',
        hsm: { token: 'clinic', key: 'gw' },
        readers: [{ kid: p.reader.kid, publicKey: 'reader.pem' }],
        devices: { port: 0 },
        http: { port: 0 },
        batch: { maxReadings: 50, maxDelayMs: 50 },
        notary: {
          id: p.notaryId,
          url: `mqtt://127.0.0.1:${responder.port}`,
          certificate: 'notary.pem',
          retryMs: 100,
          answerTimeoutMs: 2000,
        },
        ...extra,
      }),
    );
    return file;
  };

  /** Runs the CLI to its end without blocking this process's event loop. */
  const medchain = (
    args: string[],
  ): Promise<{ status: number | null; stdout: string; stderr: string }> => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    return new Promise((resolve) =>
      child.once('close', (status) => resolve({ status, stdout, stderr })),
    );
  };

  const start = async (extra: object = {}): Promise<Running> => {
    const responder = await newResponder();
    const file = config(extra, responder);
    const child = spawn(process.execPath, [BIN, 'gateway', '--config', file], {
      env,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, signal) => r({ code, signal })),
    );
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const seen: string[] = [];
    const ready = new Promise<{ devicesPort: number; httpPort: number }>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        seen.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; devicesPort?: number; httpPort?: number };
          if (j.msg === 'gateway ready')
            resolve({ devicesPort: j.devicesPort!, httpPort: j.httpPort! });
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${seen.join('\n')}`)));
    });
    const ports = await within(120_000, 'gateway ready', ready);
    return {
      child,
      responder,
      ...ports,
      exited,
      lines: seen,
      async readyz() {
        const r = await fetch(`http://127.0.0.1:${ports.httpPort}/readyz`);
        return { status: r.status, body: (await r.json()) as { ok: boolean; reasons?: string[] } };
      },
    };
  };

  return { p, dir, env, newResponder, config, medchain, start };
}
