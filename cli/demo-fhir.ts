/**
 * The demo's reader: `medchain export --format fhir` run as its own process on each
 * institution chain export, with the reader key on its token, exactly as a clinical
 * system would, writing a Bulk Data directory per institution. Only the reader can do
 * this; the summary counts what it read.
 */
import { execFile } from 'node:child_process';
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
    return {
      notary,
      ok: s.ok === true,
      readings: s.readings ?? 0,
      observations: s.observations ?? 0,
      dir: out,
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr || e.message).trim();
    return { notary, ok: false, readings: 0, observations: 0, dir: out, detail };
  }
}
