import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

// The whole system as a newcomer runs it: Trent, a regional notary, two institution
// notaries, three gateways and simulated devices, each notary and gateway its own
// process on its own SoftHSM2 token, over TLS on 127.0.0.1.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

interface Summary {
  ok: boolean;
  verified: boolean;
  readings: {
    acked: number;
    stored: number;
    rejected: number;
    rejectedByReason: Record<string, number>;
  };
  blocks: number;
  receipts: number;
  chains: { notary: string; entries: number; verified: boolean; anchoredHeights?: number }[];
  anchors: number;
  proof: {
    ok: boolean;
    device?: string;
    seq?: number;
    notary?: string;
    anchor?: { notaryId: string; height: number; size: number } | null;
  };
  fhir: { ok: boolean; readings: number; observations: number; dirs: string[] };
}

t.test(
  'medchain demo: telemetry reaches receipts, every chain verifies, a reading is proven',
  async (t) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--json', '--duration', '8'], {
      env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.equal(code, 0, err.slice(-2000));
    const s = JSON.parse(out) as Summary;
    t.equal(s.ok, true);
    t.equal(s.verified, true);
    t.ok(s.readings.acked > 20, `${s.readings.acked} readings acknowledged`);
    t.ok(
      s.readings.stored >= s.readings.acked - s.readings.rejected,
      'every accepted reading is stored',
    );
    t.equal(
      Object.values(s.readings.rejectedByReason).reduce((a, b) => a + b, 0),
      s.readings.rejected,
      'every rejection has its reason',
    );
    t.ok(s.blocks > 0);
    t.equal(
      s.receipts,
      s.blocks,
      'every sealed block has its verified receipt after the graceful stop',
    );
    t.same(
      s.chains.map((c) => [c.notary, c.verified]),
      [
        ['notary-1', true],
        ['notary-2', true],
        ['regional', true],
      ],
    );
    const institution = s.chains
      .filter((c) => c.notary !== 'regional')
      .reduce((n, c) => n + c.entries, 0);
    t.equal(institution, s.blocks, 'one chain entry per gateway block');
    t.ok(s.anchors > 0, `${s.anchors} institution checkpoints anchored in the regional chain`);
    for (const c of s.chains.filter((x) => x.notary !== 'regional')) {
      t.ok(
        (c.anchoredHeights ?? 0) > 0,
        `${c.notary}: heights 1..${c.anchoredHeights} followed into the regional export`,
      );
    }
    t.match(s.proof, { ok: true, notary: 'notary-1', anchor: { notaryId: 'regional' } });
    t.equal(s.fhir.ok, true);
    t.equal(
      s.fhir.readings,
      s.readings.stored,
      'the authorised reader decrypts every stored reading into FHIR',
    );
    t.ok(s.fhir.observations > 0, `${s.fhir.observations} Observations`);
    t.match(
      s.fhir.dirs,
      [/notary-1\.fhir$/, /notary-2\.fhir$/],
      'a Bulk Data directory per institution',
    );
  },
);
