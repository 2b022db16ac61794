/**
 * Where `medchain export --format fhir` writes: a Bulk Data directory (one NDJSON file per
 * resource type and manifest.json), made under a temporary name and renamed into place
 * only when complete, so a failed export leaves nothing behind; or one NDJSON stream on
 * stdout for pipes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MedchainError } from '../errors/medchain-error.js';
import { bulkManifest, ndjsonFile } from '../fhir/manifest.js';
import { ndjsonLine } from '../fhir/ndjson.js';
import type { Resource, ResourceType } from '../fhir/resources.js';

export async function writeBulkDir(
  dir: string,
  resources: ReadonlyMap<ResourceType, readonly Resource[]>,
  transactionTime: number,
  request: string,
): Promise<void> {
  if (await exists(dir))
    throw new MedchainError('CLI_OUTPUT', `${dir} exists: give a new directory`);
  const tmp = join(dirname(dir), `.${basename(dir)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await mkdir(tmp, { mode: 0o700 });
  } catch (err) {
    throw new MedchainError('CLI_OUTPUT', `cannot create ${dir}: ${(err as Error).message}`);
  }
  try {
    const counts = new Map<ResourceType, number>();
    for (const [type, list] of resources) {
      counts.set(type, list.length);
      if (list.length > 0) await writeFileSynced(join(tmp, ndjsonFile(type)), list.map(ndjsonLine));
    }
    const manifest = bulkManifest(transactionTime, request, counts);
    await writeFileSynced(join(tmp, 'manifest.json'), [`${JSON.stringify(manifest, null, 2)}\n`]);
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function writeFileSynced(path: string, chunks: readonly string[]): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    for (const c of chunks) await fh.write(c);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every resource as one NDJSON stream on stdout, referenced types first. */
export async function writeStdout(resources: ReadonlyMap<ResourceType, readonly Resource[]>) {
  for (const list of resources.values()) {
    for (const r of list) {
      if (!process.stdout.write(ndjsonLine(r)))
        await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
  }
}
