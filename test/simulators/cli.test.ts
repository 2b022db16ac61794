import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { startBroker } from '../helpers/sim-broker.js';

// `medchain simulate` as an operator runs it: the built bin against a real broker.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (asynchronously: the broker lives in this process); onLine sees stdout lines. */
function medchain(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'error' },
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b;
    pending += b;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      onLine?.(pending.slice(0, nl), () => child.kill('SIGINT'));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

t.test('simulate --json for a bounded duration: stats lines, then a summary', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const r = await medchain([
    'simulate',
    '--gateway',
    broker.url,
    '--devices',
    '5',
    '--duration',
    '1.5',
    '--rate',
    '10',
    '--interval',
    '0.4',
    '--fault',
    'out-of-range:0.05',
    '--fault',
    'garbage:0.05',
    '--format',
    'json',
    '--seed',
    '3',
    '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const summary = lines.at(-1);
  t.equal(summary.event, 'summary');
  t.ok(lines.slice(0, -1).length >= 2, 'periodic stats');
  t.ok(lines.slice(0, -1).every((l) => l.event === 'stats'));
  t.equal(summary.devices, 5);
  t.ok(summary.published > 20, `${summary.published} published`);
  t.equal(summary.acked, summary.published);
  t.equal(summary.inflight, 0);
  t.equal(summary.latency.count, summary.acked);
  t.ok(summary.latency.p99Ms > 0);
  t.equal(broker.received.length, summary.published, 'the broker saw each once');
  const reasons = new Map<string, number>();
  for (const m of broker.received) {
    const d = decodeReading(m.payload);
    const k = d.ok ? `ok:${d.value.format}` : d.error.reason;
    reasons.set(k, (reasons.get(k) ?? 0) + 1);
  }
  const faults = summary.byFault as Record<string, { sent: number }>;
  t.equal(reasons.get('out-of-range') ?? 0, faults['out-of-range']?.sent ?? 0);
  t.equal(reasons.get('malformed-json') ?? 0, faults.garbage?.sent ?? 0);
  t.ok((reasons.get('ok:json') ?? 0) > 0, 'JSON payloads');
  t.same([...new Set(broker.received.map((m) => m.username))].sort(), [
    'ecg-0001',
    'glu-0001',
    'nibp-0001',
    'ox-0001',
    'temp-0001',
  ]);
});

t.test('simulate with a credentials file, stopped by Ctrl-C', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'medchain-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const creds = { 'ox-a': 'pw-a', 'bed-2': { secret: 'pw-b', kind: 'ecg', patient: 'P2' } };
  writeFileSync(join(dir, 'creds.json'), JSON.stringify(creds));
  const broker = await startBroker({ secrets: { 'ox-a': 'pw-a', 'bed-2': 'pw-b' } });
  t.teardown(() => broker.close());
  let stopped = false;
  const r = await medchain(
    [
      'simulate',
      '--gateway',
      broker.url,
      '--credentials',
      join(dir, 'creds.json'),
      '--json',
      '--interval',
      '0.1',
      '--rate',
      '10',
    ],
    (line, kill) => {
      const l = JSON.parse(line);
      // Both devices read within 0.1 s at rate 10; 20 PUBACKs means both have sent.
      if (l.event === 'stats' && l.acked >= 20 && !stopped) {
        stopped = true;
        kill();
      }
    },
  );
  t.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.equal(summary.event, 'summary');
  t.equal(summary.devices, 2);
  t.ok(summary.acked > 0);
  t.equal(summary.errors, 0, 'both authenticated');
  t.same([...new Set(broker.received.map((m) => m.username))].sort(), ['bed-2', 'ox-a']);
});

t.test('simulate refuses bad input with medchain: CODE and status 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--gateway', 'nope', '--devices', '1'], /CLI_USAGE: --gateway/],
    [['--gateway', 'mqtt://127.0.0.1:1', '--devices', 'x'], /CLI_USAGE: --devices/],
    [
      ['--gateway', 'mqtt://127.0.0.1:1', '--devices', '1', '--fault', 'nope:1'],
      /CLI_USAGE: --fault/,
    ],
    [
      ['--gateway', 'mqtt://127.0.0.1:1', '--devices', '1', '--kinds', 'ox,mri'],
      /CLI_USAGE: --kinds/,
    ],
    [['--gateway', 'mqtt://127.0.0.1:1'], /CLI_USAGE: give --devices/],
    [
      ['--gateway', 'mqtt://127.0.0.1:1', '--devices', '1', '--connect-timeout', '0.5'],
      /SIM_CONNECT: no device could connect/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await medchain(['simulate', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
  }
});
