/**
 * The demo's reader: `medchain export --format fhir` run as its own process on each
 * institution chain export, with the reader key on its token, exactly as a clinical
 * system would, writing a Bulk Data directory per institution. Only the reader can do
 * this; the summary counts what it read. Then, as an EMR user would, it follows one
 * Observation (an ECG strip when there is one) through its Provenance to the reading
 * proofs and has `medchain verify-proof --observation` check them with the root alone.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const run = promisify(execFile);

export interface DemoFhirResult {
  readonly notary: string;
  readonly ok: boolean;
  /** Readings decrypted and mapped. */
  readonly readings: number;
  readonly observations: number;
  /** The Bulk Data directory (manifest.json and one NDJSON file per resource type). */
  readonly dir: string;
  /** The Observation followed to its reading proofs, and how many readings they proved. */
  readonly checked?: { readonly observation: string; readonly readings: number };
  readonly detail?: string;
}

export async function readAsReader(
  dir: string,
  notary: string,
  exportFile: string,
  reader: string,
  rootPath: string,
): Promise<DemoFhirResult> {
  const out = join(dir, 'exports', `${notary}.fhir`);
  const args = [
    MAIN,
    'export',
    '--in',
    exportFile,
    '--format',
    'fhir',
    '--root',
    rootPath,
    '--token',
    reader,
    '--key',
    reader,
    '--pin-file',
    join(dir, 'pins', `${reader}.pin`),
    '--reader-id',
    reader,
    '--out',
    out,
  ];
  try {
    const { stdout } = await run(process.execPath, args, { env: process.env, timeout: 60_000 });
    const s = JSON.parse(stdout) as { ok?: boolean; readings?: number; observations?: number };
    const checked = await followProvenance(out, rootPath);
    return {
      notary,
      ok: s.ok === true && checked.ok,
      readings: s.readings ?? 0,
      observations: s.observations ?? 0,
      dir: out,
      checked: { observation: checked.observation, readings: checked.readings?.length ?? 0 },
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr || e.message).trim();
    return { notary, ok: false, readings: 0, observations: 0, dir: out, detail };
  }
}

async function followProvenance(out: string, rootPath: string) {
  const lines = (await readFile(join(out, 'Observation.ndjson'), 'utf8')).split('\n');
  const line = lines.find((l) => l.includes('"code":"131330"')) ?? lines[0] ?? '';
  const id = (JSON.parse(line) as { id: string }).id;
  const args = [MAIN, 'verify-proof', '--observation', id, '--fhir', out, '--root', rootPath];
  const { stdout } = await run(process.execPath, [...args, '--json'], { timeout: 60_000 });
  return JSON.parse(stdout) as { ok: boolean; observation: string; readings?: unknown[] };
}
