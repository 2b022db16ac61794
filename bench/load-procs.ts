/**
 * The load generator spread over several processes (bench/load-child.ts), so that at
 * tens of thousands of readings/s it is not the bottleneck it measures. Each process
 * drives devices/procs devices of its own id prefix (`{prefix}{k}-`) at offered/procs;
 * all release from the same instant. The parent meters whatever it is told to over
 * the window (CPU, RSS, metrics) through atStart/atEnd.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deviceIds, type LoadResult } from './load.js';
import type { LoadChildJob } from './load-child.js';
import { stopChild, track } from './procs.js';

export interface ProcsLoadOptions {
  readonly url: string;
  readonly procs: number;
  /** In all, a multiple of 5 per process keeps the five kinds' mix. */
  readonly devices: number;
  readonly idPrefix: string;
  readonly offeredPerSec: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly secrets?: ReadonlyMap<string, string>;
  readonly atStart?: () => Promise<void> | void;
  readonly atEnd?: () => Promise<void> | void;
}

export interface ProcsLoadResult {
  readonly offeredPerSec: number;
  readonly publishedPerSec: number;
  readonly ackedPerSec: number;
  readonly pubackP99Ms: number;
  readonly deviceBacklog: number;
  readonly saturated: boolean;
  readonly connected: number;
}

/** Device ids the generator will use, for registering them at a gateway first. */
export function procsDeviceIds(o: Pick<ProcsLoadOptions, 'procs' | 'devices' | 'idPrefix'>) {
  return Array.from({ length: o.procs }, (_, k) =>
    deviceIds(perProc(o.devices, o.procs), `${o.idPrefix}${k}-`),
  ).flat();
}

function perProc(devices: number, procs: number): number {
  return Math.max(5, Math.round(devices / procs / 5) * 5);
}

const here = fileURLToPath(new URL('./load-child.js', import.meta.url));

function next<T>(child: ChildProcess, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => done(new Error(`load generator: no ${key} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMsg = (m: unknown) => {
      if (typeof m === 'object' && m !== null && key in m) done(undefined, m as T);
    };
    const onExit = (code: number | null) => done(new Error(`load generator exited with ${code}`));
    const done = (err?: Error, v?: T) => {
      clearTimeout(t);
      child.off('message', onMsg);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(v as T);
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

export async function runLoadProcs(o: ProcsLoadOptions): Promise<ProcsLoadResult> {
  const n = perProc(o.devices, o.procs);
  const children = Array.from({ length: o.procs }, () =>
    track(fork(here, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
  );
  try {
    const made = children.map((c) => next(c, 'made', 120_000));
    children.forEach((c, k) => {
      const prefix = `${o.idPrefix}${k}-`;
      const ids = deviceIds(n, prefix);
      const job: LoadChildJob = {
        url: o.url,
        devices: n,
        idPrefix: prefix,
        offeredPerSec: o.offeredPerSec / o.procs,
        warmupMs: o.warmupMs,
        windowMs: o.windowMs,
        secrets: ids.flatMap((id) => {
          const s = o.secrets?.get(id);
          return s === undefined ? [] : [[id, s] as const];
        }),
      };
      c.send(job);
    });
    await Promise.all(made);
    const connected = children.map((c) => next(c, 'connected', 60_000));
    await Promise.all(connected);
    const results = children.map((c) => next<{ result: LoadResult }>(c, 'result', 600_000));
    for (const c of children) c.send('go');
    await sleep(o.warmupMs);
    await o.atStart?.();
    await sleep(o.windowMs);
    await o.atEnd?.();
    const rs = (await Promise.all(results)).map((r) => r.result);
    const sum = (f: (r: LoadResult) => number) => rs.reduce((s, r) => s + f(r), 0);
    const published = sum((r) => r.publishedPerSec);
    const acked = sum((r) => r.ackedPerSec);
    const backlog = sum((r) => r.deviceBacklog);
    return {
      offeredPerSec: Math.round(o.offeredPerSec),
      publishedPerSec: published,
      ackedPerSec: acked,
      pubackP99Ms: Math.max(...rs.map((r) => r.puback.p99Ms)),
      deviceBacklog: backlog,
      saturated: backlog > 0 || acked < 0.95 * published,
      connected: sum((r) => r.connected),
    };
  } finally {
    await Promise.all(children.map((c) => stopChild(c, 5000)));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
