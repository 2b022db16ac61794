/**
 * `npm run soak`: real devices publish steadily to a gateway and notary (each its own
 * `medchain` process, as the demo starts them, on 127.0.0.1 only) while, in turn:
 * CONNECT floods of 100 and 1,000, slow-loris sockets, a fuzzer-style stream of
 * malformed packets, kill -9 of the gateway, kill -9 of the notary, and a full disk
 * (the gateway's database on a small tmpfs, filled). Per phase: the devices' CONNACK
 * and PUBACK latency p50/p99, RSS; at the end acknowledged vs stored vs receipted.
 * Exits 1 if a device waited past the bound during an attack phase, if recovery after a
 * flood took longer than its bound, or if anything acknowledged was lost or never
 * receipted. Bounded: about 3 minutes, every loop counted, everything stopped at exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  gatewayConfig,
  type NodeSpec,
  notaryConfig,
  type RunningNode,
  startNode,
  stopNode,
} from '../cli/demo-nodes.js';
import { provisionPki } from '../cli/demo-pki.js';
import { DeviceRegistry } from '../gateway/registry.js';
import { Spool } from '../gateway/spool.js';
import { killAll, rssMB, track } from './procs.js';
import { readReceipts } from './receipts.js';
import { type Sample, SoakStats, SteadyDevice, startProber } from './soak-devices.js';

const DEVICES = 5;
const EVERY_MS = 50; // 20 readings/s per device
const PHASE_MS = 12_000;
/** A real device's CONNACK and PUBACK p99 must stay under this during attack phases. */
const BOUND_MS = 2000;
/** After a flood stops, a fresh CONNECT must be answered within this. */
const RECOVERY_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ATTACKER = fileURLToPath(new URL('./soak-attacks.js', import.meta.url));

/** Starts an attacker process; its stop() ends it and resolves with its connection count. */
function attack(kind: 'flood' | 'fuzz' | 'loris', n: number, port: number) {
  const child = track(
    spawn(process.execPath, [ATTACKER, kind, String(n), String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop(): Promise<number> {
      child.kill('SIGTERM');
      await exited;
      return Number(out.trim()) || 0;
    },
  };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

interface PhaseRow {
  phase: string;
  connacks: number;
  connackP50: number;
  connackP99: number;
  pubacks: number;
  pubackP50: number;
  pubackP99: number;
  gatewayRssMB: number;
  notaryRssMB: number;
  note: string;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-soak-'));
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk]).status === 0;
  // Interrupted (SIGINT/SIGTERM exit through procs.ts) or not: never leave the mount.
  process.once('exit', () => {
    if (mounted) spawnSync('umount', ['-l', disk]);
    rmSync(dir, { recursive: true, force: true });
  });
  const failures: string[] = [];
  const rows: PhaseRow[] = [];
  const stats = new SoakStats();
  const nodes: { gateway?: RunningNode; notary?: RunningNode } = {};
  const devices: SteadyDevice[] = [];
  const stopProbe: (() => void)[] = [];
  try {
    const pki = await provisionPki(dir, {
      notaries: ['notary-1'],
      gateways: ['gw-1'],
      reader: 'reader-1',
    });
    const part = (id: string) => pki.participants.get(id)!;
    const notary: NodeSpec = {
      p: part('notary-1'),
      mqttPort: await freePort(),
      httpPort: await freePort(),
    };
    const gw: NodeSpec = {
      p: part('gw-1'),
      mqttPort: await freePort(),
      httpPort: await freePort(),
      devicePort: await freePort(),
    };
    const gatewayDb = join(disk, 'gw-1.db');
    const ids = [...Array.from({ length: DEVICES }, (_, i) => `soak-${i + 1}`), 'probe-1'];
    const secrets = new Map<string, string>();
    const spool = await Spool.open(gatewayDb);
    try {
      const registry = new DeviceRegistry(spool.db);
      for (const id of ids) secrets.set(id, await registry.add(id)); // generated: HMAC
    } finally {
      await spool.close();
    }
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const notaryCfg = notaryConfig(dir, pki, notary, [gw.p]);
    const gatewayCfg = gatewayConfig(disk, pki, gw, notary, { maxReadings: 200, maxDelayMs: 500 });
    const startNotary = async () => {
      nodes.notary = await startNode(
        'notary',
        'notary-1',
        notaryCfg,
        notary.httpPort,
        logs,
        120_000,
      );
      track(nodes.notary.child);
    };
    const startGateway = async () => {
      nodes.gateway = await startNode('gateway', 'gw-1', gatewayCfg, gw.httpPort, logs, 120_000);
      track(nodes.gateway.child);
    };
    await startNotary();
    await startGateway();
    const url = `mqtt://127.0.0.1:${gw.devicePort}`;
    for (const id of ids.slice(0, DEVICES)) {
      devices.push(new SteadyDevice(url, id, secrets.get(id)!, EVERY_MS, stats));
    }
    stopProbe.push(startProber(url, 'probe-1', secrets.get('probe-1')!, 250, stats));

    const phase = async (name: string, run: () => Promise<string>, bounded: boolean) => {
      stats.phase = name;
      const of = (xs: Sample[]) => xs.filter((s) => s.phase === name).map((s) => s.ms);
      let gRss = 0;
      let nRss = 0;
      const rss = setInterval(() => {
        gRss = Math.max(gRss, rssMB(nodes.gateway?.child.pid ?? 0));
        nRss = Math.max(nRss, rssMB(nodes.notary?.child.pid ?? 0));
      }, 500);
      process.stderr.write(`soak: ${name}\n`);
      const note = await run();
      clearInterval(rss);
      const c = of(stats.connack);
      const p = of(stats.puback);
      const row: PhaseRow = {
        phase: name,
        connacks: c.length,
        connackP50: quantile(c, 0.5),
        connackP99: quantile(c, 0.99),
        pubacks: p.length,
        pubackP50: quantile(p, 0.5),
        pubackP99: quantile(p, 0.99),
        gatewayRssMB: gRss,
        notaryRssMB: nRss,
        note,
      };
      rows.push(row);
      if (bounded) {
        if (!(row.connackP99 < BOUND_MS))
          failures.push(`${name}: CONNACK p99 ${row.connackP99} ms`);
        if (!(row.pubackP99 < BOUND_MS)) failures.push(`${name}: PUBACK p99 ${row.pubackP99} ms`);
        if (row.pubacks === 0) failures.push(`${name}: no reading acknowledged`);
      }
    };
    /** Time from now until a fresh CONNECT is answered (the prober's next sample). */
    const recovery = async (name: string): Promise<number> => {
      const t0 = Date.now();
      const seen = stats.connack.length;
      while (Date.now() - t0 < 60_000) {
        const next = stats.connack.slice(seen).find((s) => s.ms < BOUND_MS);
        if (next) return Date.now() - t0;
        await sleep(20);
      }
      failures.push(`${name}: no CONNACK within 60 s after it`);
      return 60_000;
    };

    await phase(
      'baseline',
      async () => {
        await sleep(PHASE_MS);
        return '';
      },
      true,
    );
    for (const n of [100, 1000]) {
      const name = `connect-flood-${n}`;
      await phase(
        name,
        async () => {
          const f = attack('flood', n, gw.devicePort!);
          await sleep(PHASE_MS);
          const sent = await f.stop();
          const r = await recovery(name);
          if (r > RECOVERY_MS) failures.push(`${name}: recovery ${r} ms`);
          return `${n} at a time, ${sent} bad CONNECTs; recovery ${r} ms`;
        },
        true,
      );
    }
    await phase(
      'slow-loris-500',
      async () => {
        const s = attack('loris', 500, gw.devicePort!);
        await sleep(PHASE_MS);
        await s.stop();
        return '500 sockets, one CONNECT byte a second';
      },
      true,
    );
    await phase(
      'fuzzer',
      async () => {
        const f = attack('fuzz', 50, gw.devicePort!);
        await sleep(PHASE_MS);
        return `${await f.stop()} malformed connections`;
      },
      true,
    );
    await phase(
      'kill-9-gateway',
      async () => {
        nodes.gateway!.child.kill('SIGKILL');
        await nodes.gateway!.exited;
        const t0 = Date.now();
        await startGateway();
        const up = Date.now() - t0;
        await sleep(PHASE_MS);
        return `restarted and ready in ${up} ms`;
      },
      false,
    );
    await phase(
      'kill-9-notary',
      async () => {
        nodes.notary!.child.kill('SIGKILL');
        await nodes.notary!.exited;
        const t0 = Date.now();
        await startNotary();
        const up = Date.now() - t0;
        await sleep(PHASE_MS);
        return `restarted and ready in ${up} ms`;
      },
      false,
    );
    await phase(
      'disk-full',
      async () => {
        if (!mounted) return 'skipped: no tmpfs (needs root)';
        const filler = join(disk, 'filler');
        spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
        await sleep(PHASE_MS / 2);
        rmSync(filler);
        await sleep(PHASE_MS / 2);
        return 'tmpfs filled for 6 s, then freed';
      },
      false,
    );
    await phase(
      'drain',
      async () => {
        for (const d of devices) d.stopPublishing();
        const t0 = Date.now();
        while (devices.some((d) => d.pending > 0) && Date.now() - t0 < 60_000) await sleep(100);
        // Everything acknowledged must reach a receipt.
        while (Date.now() - t0 < 120_000) {
          const got = await readReceipts(gatewayDb, 'soak-');
          if (got.every((r) => r.receiptAt !== null) && got.length >= stats.acked.size) break;
          await sleep(500);
        }
        return `drained in ${Date.now() - t0} ms`;
      },
      false,
    );
    for (const s of stopProbe) s();
    await Promise.all(devices.map((d) => d.end()));
    const stored = await readReceipts(gatewayDb, 'soak-');
    const storedSet = new Set(stored.map((r) => `${r.deviceId}:${r.seq}`));
    const receipted = stored.filter((r) => r.receiptAt !== null).length;
    const lost = [...stats.acked].filter((k) => !storedSet.has(k));
    const unreceipted = stored.filter(
      (r) => r.receiptAt === null && stats.acked.has(`${r.deviceId}:${r.seq}`),
    ).length;
    if (lost.length > 0) failures.push(`${lost.length} acknowledged readings not stored`);
    if (unreceipted > 0) failures.push(`${unreceipted} acknowledged readings without a receipt`);
    const summary = {
      devices: DEVICES,
      readingsPerSecondPerDevice: 1000 / EVERY_MS,
      boundMs: BOUND_MS,
      recoveryBoundMs: RECOVERY_MS,
      acknowledged: stats.acked.size,
      stored: stored.length,
      receipted,
      lost: lost.length,
      phases: rows,
      failures,
    };
    process.stdout.write(`${table(rows)}\n`);
    process.stdout.write(
      `acknowledged ${stats.acked.size}, stored ${stored.length}, receipted ${receipted}, lost ${lost.length}\n`,
    );
    mkdirSync('bench/results', { recursive: true });
    const out = `bench/results/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`written: ${out}\n`);
    for (const f of failures) process.stdout.write(`FAIL ${f}\n`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const s of stopProbe) s();
    for (const n of [nodes.gateway, nodes.notary]) if (n) await stopNode(n, 10_000);
    killAll();
    if (mounted) spawnSync('umount', ['-l', disk]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: PhaseRow[]): string {
  const f = (x: number) => (Number.isNaN(x) ? '-' : String(Math.round(x)));
  const head =
    '| phase | CONNACK n | p50 ms | p99 ms | PUBACK n | p50 ms | p99 ms | gateway RSS MB | notary RSS MB | note |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  const lines = rows.map(
    (r) =>
      `| ${r.phase} | ${r.connacks} | ${f(r.connackP50)} | ${f(r.connackP99)} | ${r.pubacks} | ${f(r.pubackP50)} | ${f(r.pubackP99)} | ${r.gatewayRssMB} | ${r.notaryRssMB} | ${r.note} |`,
  );
  return [head, sep, ...lines].join('\n');
}

const hardStop = setTimeout(() => {
  process.stderr.write('soak: over its 10-minute bound, stopping\n');
  killAll();
  process.exit(1);
}, 600_000);
hardStop.unref();
main().then(
  (code) => {
    process.exitCode = code;
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`soak failed: ${String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
