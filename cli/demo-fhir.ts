/**
 * The demo's reader: `medchain export --format fhir` run as its own process on each
 * institution chain export, with the reader key on its token, exactly as a clinical
 * system would. Only the reader can do this; the summary counts what it read.
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
  readonly observations: number;
  readonly file: string;
  readonly detail?: string;
}

export async function readAsReader(
  dir: string,
  notary: string,
  exportFile: string,
  reader: string,
  rootPath: string,
): Promise<DemoFhirResult> {
  const file = join(dir, 'exports', `${notary}.fhir.ndjson`);
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
    file,
  ];
  try {
    const { stdout } = await run(process.execPath, args, { env: process.env, timeout: 60_000 });
    const s = JSON.parse(stdout) as { ok?: boolean; observations?: number };
    return { notary, ok: s.ok === true, observations: s.observations ?? 0, file };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { notary, ok: false, observations: 0, file, detail: (e.stderr || e.message).trim() };
  }
}
