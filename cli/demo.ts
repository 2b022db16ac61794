import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { anchorCovering } from '../broker/anchor-lookup.js';
import { ChainStore } from '../broker/chain-store.js';
import { loadNotaryConfig } from '../broker/config.js';
import { writeExport } from '../broker/export.js';
import { verifyExport } from '../broker/export-verify.js';
import { openNotarySigner } from '../broker/run.js';
import { proofResolver } from '../ca/proof-resolver.js';
import { kidOfCertificate } from '../core/kid.js';
import { verifyReadingProof } from '../core/reading-proof.js';
import { MedchainError } from '../errors/medchain-error.js';
import { proofAnchor } from '../gateway/anchor-client.js';
import { type AnchorSource, buildReadingProof } from '../gateway/prove.js';
import { DeviceRegistry, newSecret } from '../gateway/registry.js';
import { Spool } from '../gateway/spool.js';
import { createLogger } from '../ops/log.js';
import { type FleetHandle, planDevices, startFleet } from '../simulators/fleet.js';
import type { FleetStats } from '../simulators/stats.js';
import { readAsReader } from './demo-fhir.js';
import {
  freePort,
  gatewayConfig,
  type NodeSpec,
  notaryConfig,
  type RunningNode,
  scrape,
  startNode,
  stopNode,
} from './demo-nodes.js';
import { type DemoPki, provisionPki } from './demo-pki.js';

interface DemoFlags {
  duration: string;
  notaries: string;
  gateways: string;
  devices: string;
  keep?: string;
  json?: boolean;
}

function count(v: string, name: string, min: number, max: number): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new MedchainError('CLI_USAGE', `--${name}: a whole number from ${min} to ${max}`);
  }
  return n;
}

const GATEWAY_METRICS = [
  'medchain_gateway_readings_accepted_total',
  'medchain_gateway_readings_rejected_total',
  'medchain_gateway_readings_duplicate_total',
  'medchain_gateway_blocks_sealed_total',
  'medchain_gateway_receipts_total',
] as const;

async function runDemo(o: DemoFlags): Promise<void> {
  const seconds = count(o.duration, 'duration', 1, 3600);
  const nNotaries = count(o.notaries, 'notaries', 1, 5);
  const nGateways = count(o.gateways, 'gateways', 1, 10);
  const perGateway = count(o.devices, 'devices', 1, 200);
  const say = (line: string) => {
    if (!o.json) process.stdout.write(`${line}\n`);
  };
  const dir = o.keep ? resolve(o.keep) : mkdtempSync(join(tmpdir(), 'medchain-demo-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'exports'), { recursive: true });

  const notaryIds = Array.from({ length: nNotaries }, (_, i) => `notary-${i + 1}`);
  const gatewayIds = Array.from({ length: nGateways }, (_, i) => `gw-${i + 1}`);
  say(`medchain demo in ${dir}`);
  say('  provisioning SoftHSM2 tokens, Trent and certificates ...');
  const pki: DemoPki = await provisionPki(dir, {
    notaries: ['regional', ...notaryIds],
    gateways: gatewayIds,
    reader: 'reader-1',
  });
  const part = (id: string) => {
    const p = pki.participants.get(id);
    if (!p) throw new MedchainError('DEMO_INTERNAL', `no participant ${id}`);
    return p;
  };
  const spec = async (id: string, device = false): Promise<NodeSpec> => ({
    p: part(id),
    mqttPort: await freePort(),
    httpPort: await freePort(),
    ...(device ? { devicePort: await freePort() } : {}),
  });
  const regional = await spec('regional');
  const notaries = await Promise.all(notaryIds.map((id) => spec(id)));
  const gateways = await Promise.all(gatewayIds.map((id) => spec(id, true)));
  const notaryOf = (i: number) => notaries[i % notaries.length] as NodeSpec;

  const nodes: RunningNode[] = [];
  const fleets: FleetHandle[] = [];
  const logs = join(dir, 'logs');
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    say('  starting the regional notary, institution notaries and gateways ...');
    const regionalCfg = notaryConfig(
      dir,
      pki,
      regional,
      notaries.map((n) => n.p),
    );
    nodes.push(await startNode('notary', 'regional', regionalCfg, regional.httpPort, logs));
    for (const [i, n] of notaries.entries()) {
      const mine = gateways.filter((_, g) => g % notaries.length === i).map((g) => g.p);
      const cfg = notaryConfig(dir, pki, n, mine, regional);
      nodes.push(await startNode('notary', n.p.id, cfg, n.httpPort, logs));
    }
    const devices = [];
    for (const [i, g] of gateways.entries()) {
      const plan = planDevices({ count: perGateway, idPrefix: `${g.p.id}-` }).map((d) => ({
        ...d,
        secret: newSecret(),
      }));
      const spool = await Spool.open(join(dir, `${g.p.id}.db`));
      try {
        const registry = new DeviceRegistry(spool.db);
        for (const d of plan) await registry.add(d.id, d.secret, 'generated');
      } finally {
        await spool.close();
      }
      const cfg = gatewayConfig(dir, pki, g, notaryOf(i));
      nodes.push(await startNode('gateway', g.p.id, cfg, g.httpPort, logs));
      devices.push({ g, plan });
    }
    say(
      '  web consoles (read-only, up while the demo runs; the gateway consoles answer loopback only):',
    );
    for (const n of [regional, ...notaries, ...gateways]) {
      say(`    ${n.p.role} ${n.p.id}: http://127.0.0.1:${n.httpPort}/console`);
    }
    say(
      `  ${devices.reduce((s, d) => s + d.plan.length, 0)} simulated devices publishing for ${seconds} s (Ctrl-C ends early)`,
    );
    for (const [i, { g, plan }] of devices.entries()) {
      fleets.push(
        startFleet({
          url: `mqtt://127.0.0.1:${g.devicePort}`,
          devices: plan,
          seed: 1000 + i,
          faults: { garbage: 0.005, 'out-of-range': 0.005, 'unknown-code': 0.002 },
        }),
      );
    }

    const started = Date.now();
    const tty = !o.json && process.stdout.isTTY;
    while (!interrupted && Date.now() - started < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const line = await progress(fleets, gateways, notaries, regional, started);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else say(`  ${line}`);
    }
    if (tty) process.stdout.write('\n');
    say('  stopping: devices, then gateways (seal and forward what is pending), then notaries ...');
    const fleetStats = await Promise.all(fleets.map((f) => f.stop()));
    const gwMetrics = await Promise.all(gateways.map((g) => scrape(g.httpPort, GATEWAY_METRICS)));
    for (const n of nodes.filter((x) => x.id.startsWith('gw-'))) await stopNode(n);
    // Let the institution notaries anchor their final heads before the regional stops.
    for (const n of nodes.filter((x) => x.id.startsWith('notary-'))) await stopNode(n);
    for (const n of nodes.filter((x) => x.id === 'regional')) await stopNode(n);

    say("  exporting and verifying every chain with Trent's root alone ...");
    const root = readFileSync(pki.rootPath, 'utf8');
    const exported = new Map<NodeSpec, { file: string; entries: number }>();
    for (const n of [...notaries, regional]) {
      const file = join(dir, 'exports', `${n.p.id}.chain`);
      // With the notary's token, as `notary export --config` does: a notary whose stop
      // was cut short (a loaded machine) left its last entries without a checkpoint,
      // and an export ends at a signed one.
      const config = loadNotaryConfig(join(dir, `${n.p.id}.json`));
      const token = await openNotarySigner(config, createLogger({ name: 'demo', level: 'warn' }));
      const store = await ChainStore.open(join(dir, `${n.p.id}.db`));
      try {
        await store.putCertificate(
          kidOfCertificate(token.signingCert),
          token.signingCert,
          Date.now(),
        );
        exported.set(n, {
          file,
          entries: await writeExport(store, file, { signer: token.signer }),
        });
      } finally {
        await store.close();
        await token.child.close();
      }
    }
    // Institution chains are verified with their anchors followed into the regional export.
    const regionalBytes = new Uint8Array(readFileSync(exported.get(regional)!.file));
    const chains = [];
    for (const n of [...notaries, regional]) {
      const { file, entries } = exported.get(n)!;
      const v = await verifyExport(new Uint8Array(readFileSync(file)), {
        root,
        ...(n === regional
          ? { submitterRoles: ['notary'] as const }
          : { submitterRoles: ['gateway'] as const, upstream: [regionalBytes] }),
      });
      const covered = v.ok && n !== regional ? v.anchors.coveredHeights : undefined;
      chains.push({
        notary: n.p.id,
        entries,
        export: file,
        verified: v.ok,
        ...(covered === undefined ? {} : { anchoredHeights: covered }),
        ...(v.ok ? {} : { failure: v }),
      });
      say(
        `    ${n.p.id.padEnd(10)} ${String(entries).padStart(5)} entries  ${v.ok ? 'OK' : `FAILED ${JSON.stringify(v)}`}${covered === undefined ? '' : `, heights 1..${covered} anchored in the regional chain`}`,
      );
    }
    const stored = await Promise.all(gateways.map((g) => gatewayTotals(dir, g)));
    say('  reading every institution chain as reader-1 (FHIR R4 Bulk Data directory each) ...');
    const fhir = [];
    for (const n of notaries) {
      const r = await readAsReader(dir, n.p.id, exported.get(n)!.file, 'reader-1', pki.rootPath);
      fhir.push(r);
      say(
        `    ${n.p.id.padEnd(10)} ${r.ok ? `${r.readings} readings, ${r.observations} Observations -> ${r.dir}/manifest.json; Observation ${r.checked?.observation.slice(0, 12)}… -> Provenance -> ${r.checked?.readings} reading proofs: OK` : `FAILED ${r.detail}`}`,
      );
    }
    const observations = fhir.reduce((s, r) => s + r.observations, 0);
    const fhirReadings = fhir.reduce((s, r) => s + r.readings, 0);
    const storedReadings = stored.reduce((s, x) => s + x.readings, 0);
    // Every reading in a receipted block is readable, and the reader finds nothing that was not stored.
    const fhirOk =
      fhir.every((r) => r.ok) &&
      fhirReadings >= stored.reduce((s, x) => s + x.receiptedReadings, 0) &&
      fhirReadings <= storedReadings;
    const proof = await proveOne(dir, pki, gateways[0] as NodeSpec, notaryOf(0), regional);
    say(
      proof.ok
        ? `  proved ${proof.device}#${proof.seq} end to end (reading, salt, path, signed header, receipt, regional anchor): OK`
        : `  proof FAILED: ${JSON.stringify(proof)}`,
    );
    const total = sumFleet(fleetStats);
    const summary = {
      // Nothing acknowledged is lost: every PUBACKed reading is in a gateway's spool,
      // except those refused as invalid or as duplicates (MQTT 3.1.1 acks those too).
      ok:
        chains.every((c) => c.verified) &&
        total.acked > 0 &&
        proof.ok &&
        fhirOk &&
        stored.reduce((s, x) => s + x.readings, 0) +
          sum(gwMetrics, 'medchain_gateway_readings_rejected_total') +
          sum(gwMetrics, 'medchain_gateway_readings_duplicate_total') >=
          total.acked,
      // Every chain verified with Trent's root alone and the reading proof verified.
      verified: chains.every((c) => c.verified) && proof.ok,
      dir: o.keep ? dir : null,
      durationS: Math.round((Date.now() - started) / 1000),
      devices: total.devices,
      readings: {
        published: total.published,
        acked: total.acked,
        accepted: sum(gwMetrics, 'medchain_gateway_readings_accepted_total'),
        stored: stored.reduce((s, x) => s + x.readings, 0),
        rejected: sum(gwMetrics, 'medchain_gateway_readings_rejected_total'),
        rejectedByReason: rejectedByReason(gwMetrics),
      },
      blocks: stored.reduce((s, x) => s + x.blocks, 0),
      receipts: stored.reduce((s, x) => s + x.receipts, 0),
      chains,
      anchors: chains.find((c) => c.notary === 'regional')?.entries ?? 0,
      proof,
      fhir: { ok: fhirOk, readings: fhirReadings, observations, dirs: fhir.map((r) => r.dir) },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      say(
        `  readings: ${summary.readings.acked} acknowledged, ${summary.readings.stored} stored, ${summary.readings.rejected} rejected ${JSON.stringify(summary.readings.rejectedByReason)}; blocks ${summary.blocks}, receipts ${summary.receipts}, regional anchors ${summary.anchors}, FHIR Observations ${observations}`,
      );
      say(summary.ok ? 'demo OK' : 'demo FAILED');
      if (o.keep) say(`  kept in ${dir} (logs/, exports/, certs/, pins/, *.db, *.json)`);
    }
    if (!summary.ok) process.exitCode = 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await Promise.all(fleets.map((f) => f.stop()));
    await Promise.all(nodes.map((n) => stopNode(n, 5_000)));
    if (!o.keep) {
      pki.sandbox.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** What a stopped gateway holds: readings, blocks and receipts in its database. */
async function gatewayTotals(dir: string, g: NodeSpec) {
  const spool = await Spool.open(join(dir, `${g.p.id}.db`));
  try {
    const r = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
    const b = await spool.db.get<{ n: number; r: number }>(
      'SELECT count(*) AS n, count(receipt) AS r FROM blocks',
    );
    const rr = await spool.db.get<{ n: number }>(
      `SELECT count(*) AS n FROM readings r JOIN blocks b ON b.seq = r.block_seq
       WHERE b.receipt IS NOT NULL`,
    );
    return {
      readings: r?.n ?? 0,
      receiptedReadings: rr?.n ?? 0,
      blocks: b?.n ?? 0,
      receipts: b?.r ?? 0,
    };
  } finally {
    await spool.close();
  }
}

/**
 * Proves the gateway's first receipted reading (its block is the oldest, so an anchor
 * in the regional chain covers it) with that anchor, and verifies the proof with
 * Trent's root alone. The anchor comes from the stopped notary's database, as its
 * GET /anchor would serve it.
 */
async function proveOne(dir: string, pki: DemoPki, g: NodeSpec, n: NodeSpec, regional: NodeSpec) {
  const spool = await Spool.open(join(dir, `${g.p.id}.db`));
  const chain = await ChainStore.open(join(dir, `${n.p.id}.db`));
  try {
    const row = await spool.db.get<{ device_id: string; seq: number }>(
      `SELECT r.device_id, r.seq FROM readings r JOIN blocks b ON b.seq = r.block_seq
       WHERE b.receipt IS NOT NULL ORDER BY r.id LIMIT 1`,
    );
    if (!row) return { ok: false as const, detail: 'no receipted reading' };
    const der = (path: string) => new Uint8Array(new X509Certificate(readFileSync(path)).raw);
    const anchorOf: AnchorSource = async (height) => {
      const a = await anchorCovering(chain, height);
      if (!a)
        throw new MedchainError('DEMO_NO_ANCHOR', `no regional anchor covers height ${height}`);
      return proofAnchor(height, a.block, a.proof, a.receipt, der(regional.p.signCert));
    };
    let bytes: Uint8Array;
    try {
      bytes = await buildReadingProof(
        spool,
        row.device_id,
        row.seq,
        { gateway: der(g.p.signCert), notary: der(n.p.signCert) },
        anchorOf,
      );
    } catch (err) {
      if (!(err instanceof MedchainError)) throw err;
      return { ok: false as const, device: row.device_id, seq: row.seq, detail: err.message };
    }
    const file = join(dir, 'exports', `${row.device_id}-${row.seq}.proof`);
    writeFileSync(file, bytes);
    const v = await verifyReadingProof(
      bytes,
      proofResolver({
        root: readFileSync(pki.rootPath, 'utf8'),
        crl: readFileSync(pki.crlPath, 'utf8'),
        skewMs: 300_000,
      }),
    );
    return v.ok
      ? {
          ok: true as const,
          device: row.device_id,
          seq: row.seq,
          file,
          height: v.height,
          notary: v.notaryId,
          anchor: v.anchor ?? null,
        }
      : {
          ok: false as const,
          device: row.device_id,
          seq: row.seq,
          check: v.check,
          detail: v.detail,
        };
  } finally {
    await chain.close();
    await spool.close();
  }
}

function sum(rows: readonly Record<string, number>[], name: string): number {
  return rows.reduce((s, r) => s + (r[name] ?? 0), 0);
}

/** Readings the gateways refused, by reason (from their labelled rejection counters). */
function rejectedByReason(rows: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) {
      const m = /^medchain_gateway_readings_rejected_total\{reason="([^"]+)"\}$/.exec(k);
      if (m?.[1] && v > 0) out[m[1]] = (out[m[1]] ?? 0) + v;
    }
  }
  return out;
}

function sumFleet(stats: readonly FleetStats[]) {
  return {
    devices: stats.reduce((s, x) => s + x.devices, 0),
    published: stats.reduce((s, x) => s + x.published, 0),
    acked: stats.reduce((s, x) => s + x.acked, 0),
  };
}

async function progress(
  fleets: readonly FleetHandle[],
  gateways: readonly NodeSpec[],
  notaries: readonly NodeSpec[],
  regional: NodeSpec,
  started: number,
): Promise<string> {
  const fleet = sumFleet(fleets.map((f) => f.stats()));
  const gw = await Promise.all(gateways.map((g) => scrape(g.httpPort, GATEWAY_METRICS)));
  const heights = await Promise.all(
    [...notaries, regional].map(async (n) => {
      const m = await scrape(n.httpPort, ['medchain_notary_entries']);
      return `${n.p.id}=${m.medchain_notary_entries ?? 0}`;
    }),
  );
  const secs = Math.max(1, (Date.now() - started) / 1000);
  const reasons = Object.entries(rejectedByReason(gw))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${Math.round(fleet.acked / secs)} readings/s  acked ${fleet.acked}  rejected ${sum(gw, 'medchain_gateway_readings_rejected_total')}${reasons ? ` (${reasons})` : ''}  blocks ${sum(gw, 'medchain_gateway_blocks_sealed_total')}  receipts ${sum(gw, 'medchain_gateway_receipts_total')}  heights ${heights.join(' ')}`;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run medchain on this machine: Trent, a regional notary, institution notaries, gateways and simulated devices on tokens it provisions',
    )
    .option('--duration <s>', 'seconds of simulated telemetry', '30')
    .option('--notaries <n>', 'institution notaries (each anchors into the regional one)', '2')
    .option('--gateways <n>', 'gateways (spread over the notaries)', '3')
    .option('--devices <n>', 'simulated devices per gateway', '5')
    .option(
      '--keep <dir>',
      'work in DIR and keep tokens, databases, certificates, logs and exports',
    )
    .option('--json', 'print the summary as JSON')
    .action((o: DemoFlags) => runDemo(o));
}
