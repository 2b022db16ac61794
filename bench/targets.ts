/**
 * The two forwarding targets and their subscriber, each a process of its own on an
 * ephemeral 127.0.0.1 port: bare aedes (bench/aedes-broker.ts) and Mosquitto from the
 * Debian package with the configuration below (docs: README "Benchmarks").
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../cli/demo-nodes.js';
import { stopChild, track } from './procs.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Target {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function ipcMessage<T>(child: ChildProcess, what: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what}: exited with ${code}`));
    };
    const cleanup = () => {
      clearTimeout(t);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startAedes(): Promise<Target> {
  const child = track(fork(here('./aedes-broker.js'), [], { stdio: 'inherit' }));
  const { port } = await ipcMessage<{ port: number }>(child, 'aedes broker', 10_000);
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

/**
 * The configuration the benchmark gives Mosquitto: defaults except the listener and
 * the per-client queue. No persistence (aedes keeps QoS 1 state in memory too), so
 * neither broker writes to disk; a deeper queue than the default 1000 so a subscriber
 * that falls behind for a moment is not dropped messages (aedes never drops them).
 */
export function mosquittoConfig(port: number, extra: readonly string[] = []): string {
  return [
    ...extra,
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 1000000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

/** Waits until a TCP connect to the port succeeds (Mosquitto does not say when it listens). */
async function listening(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`mosquitto not listening after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startMosquitto(
  dir: string,
  extra: readonly string[] = [],
): Promise<Target | undefined> {
  if (!existsSync(MOSQUITTO)) return undefined;
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, mosquittoConfig(port, extra));
  const child = track(spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] }));
  await listening(port, child, 10_000);
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

export interface Consumer {
  readonly pid: number;
  received(): Promise<number>;
  stop(): Promise<void>;
}

/** A QoS 1 subscriber to every device topic, ready once its SUBACK arrived. */
export async function startConsumer(url: string): Promise<Consumer> {
  const child = track(fork(here('./consumer.js'), [url], { stdio: 'inherit' }));
  await ipcMessage(child, 'consumer', 10_000);
  return {
    pid: child.pid ?? 0,
    async received() {
      const answer = ipcMessage<{ received: number }>(child, 'consumer count', 10_000);
      child.send('count');
      return (await answer).received;
    },
    stop: () => stopChild(child),
  };
}
