/**
 * The processes of `medchain demo`: each notary and gateway is this same program
 * started with its own config file, as an operator runs them, on 127.0.0.1 ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MedchainError } from '../errors/medchain-error.js';
import type { DemoParticipant, DemoPki } from './demo-pki.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** A free TCP port on 127.0.0.1 (asked of the kernel, released before use). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface NodeSpec {
  readonly p: DemoParticipant;
  readonly mqttPort: number;
  readonly httpPort: number;
  /** Gateways: the port devices connect to. */
  readonly devicePort?: number;
}

export function notaryConfig(
  dir: string,
  pki: DemoPki,
  n: NodeSpec,
  submitters: readonly DemoParticipant[],
  upstream?: NodeSpec,
): string {
  const config = {
    notaryId: n.p.id,
    db: join(dir, `${n.p.id}.db`),
    token: { label: n.p.id, key: n.p.id, pinFile: n.p.pinFile },
    signingCert: n.p.signCert,
    tls: { cert: n.p.tlsCert, key: n.p.tlsKey },
    trust: { root: pki.rootPath, crl: pki.crlPath },
    certificates: submitters.map((s) => s.signCert),
    mqtt: { host: '127.0.0.1', port: n.mqttPort },
    http: { host: '127.0.0.1', port: n.httpPort },
    submitRoles: [submitters[0]?.role ?? 'gateway'],
    checkpoint: { everyEntries: 20, everyMs: 1000 },
    logLevel: 'warn',
    ...(upstream
      ? {
          upstream: {
            url: `mqtts://127.0.0.1:${upstream.mqttPort}`,
            notaryId: upstream.p.id,
            everyMs: 2000,
            signingCert: upstream.p.signCert,
          },
        }
      : {}),
  };
  const file = join(dir, `${n.p.id}.json`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export function gatewayConfig(
  dir: string,
  pki: DemoPki,
  g: NodeSpec,
  notary: NodeSpec,
  batch: { maxReadings: number; maxDelayMs: number } = { maxReadings: 200, maxDelayMs: 1000 },
): string {
  const config = {
    gatewayId: g.p.id,
    db: join(dir, `${g.p.id}.db`),
    certificate: g.p.signCert,
    hsm: { token: g.p.id, key: g.p.id, pinFile: g.p.pinFile },
    readers: [{ certificate: pki.readerCert }],
    root: pki.rootPath,
    crl: pki.crlPath,
    devices: { host: '127.0.0.1', port: g.devicePort },
    batch,
    notary: {
      id: notary.p.id,
      url: `mqtts://127.0.0.1:${notary.mqttPort}`,
      certificate: notary.p.signCert,
      tls: { cert: g.p.tlsCert, key: g.p.tlsKey, ca: pki.rootPath },
      drainOnShutdownMs: 15_000,
    },
    http: { host: '127.0.0.1', port: g.httpPort },
    log: { level: 'warn' },
  };
  const file = join(dir, `${g.p.id}.json`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export interface RunningNode {
  readonly id: string;
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `medchain <what> --config FILE`, logs to DIR/logs/ID.log, waits for /readyz.
 * `nodeArgs` go to node itself (the benchmark's --cpu-prof).
 */
export async function startNode(
  what: 'notary' | 'gateway',
  id: string,
  config: string,
  httpPort: number,
  logDir: string,
  timeoutMs = 60_000,
  nodeArgs: readonly string[] = [],
): Promise<RunningNode> {
  const log = createWriteStream(join(logDir, `${id}.log`));
  const child = spawn(process.execPath, [...nodeArgs, MAIN, what, '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (!(await ready(httpPort))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MedchainError(
        'DEMO_START_FAILED',
        `${what} ${id} did not become ready (see ${join(logDir, `${id}.log`)})`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { id, child, httpPort, exited };
}

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** Sums every sample of each named metric in a Prometheus text page. */
export function scrape(port: number, names: readonly string[]): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    const req = get({ host: '127.0.0.1', port, path: '/metrics', timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        for (const line of text.split('\n')) {
          const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
          if (!m?.[1] || !(m[1] in out)) continue;
          out[m[1]] = (out[m[1]] ?? 0) + Number(m[3]);
          // Labelled series too, under their full name: name{label="value"}.
          if (m[2]) out[m[1] + m[2]] = Number(m[3]);
        }
        resolve(out);
      });
    });
    req.on('error', () => resolve(out));
    req.on('timeout', () => {
      req.destroy();
      resolve(out);
    });
  });
}

/** SIGTERM (graceful: seal, forward, drain), then SIGKILL after `graceMs`. */
export async function stopNode(n: RunningNode, graceMs = 30_000): Promise<number | null> {
  if (n.child.exitCode !== null) return n.child.exitCode;
  n.child.kill('SIGTERM');
  const timer = setTimeout(() => n.child.kill('SIGKILL'), graceMs);
  const code = await n.exited;
  clearTimeout(timer);
  return code;
}
