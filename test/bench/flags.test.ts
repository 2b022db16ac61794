import t from 'tap';
import { FULL, QUICK } from '../../bench/e2e-settings.js';
import { LIMITS, parseBenchFlags } from '../../bench/flags.js';
import { isMedchainError } from '../../errors/medchain-error.js';

t.test('defaults: full, or quick with --quick', async (t) => {
  const full = parseBenchFlags([]);
  t.equal(full.quick, false);
  t.same(full.settings, FULL);
  t.equal(full.out, undefined);
  const quick = parseBenchFlags(['--quick', '--profile', '--e2e-only', '--out', 'x.json']);
  t.same(quick.settings, QUICK);
  t.equal(quick.profile, true);
  t.equal(quick.e2eOnly, true);
  t.equal(quick.out, 'x.json');
  t.equal(quick.throughputOnly, false);
  t.equal(parseBenchFlags(['--throughput-only']).throughputOnly, true);
});

t.test('overrides in their units: devices, readings/s, seconds', async (t) => {
  const f = parseBenchFlags([
    '--quick',
    '--devices',
    '20.4',
    '--rate',
    '1500',
    '--window',
    '2.5',
    '--offline-seconds',
    '600',
  ]);
  t.same(f.settings, {
    ...QUICK,
    devices: 20,
    offeredPerSec: 1500,
    windowMs: 2500,
    offlineMs: 600_000,
  });
});

t.test('refused: not a number, zero or less, over the bound, unknown flag', async (t) => {
  const bad = [
    ['--devices', 'many'],
    ['--devices', '0'],
    ['--devices', String(LIMITS.devices + 1)],
    ['--rate', '-5'],
    ['--rate', 'Infinity'],
    ['--rate', String(LIMITS.rate + 1)],
    ['--window', String(LIMITS.window + 1)],
    ['--offline-seconds', String(LIMITS['offline-seconds'] + 1)],
    ['--window'],
    ['--connections', '5'],
  ];
  for (const args of bad) {
    let caught: unknown;
    try {
      parseBenchFlags(args);
    } catch (err) {
      caught = err;
    }
    t.ok(isMedchainError(caught, 'BENCH_USAGE'), args.join(' '));
  }
});
