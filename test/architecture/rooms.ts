/**
 * The house's import rules (docs/ARCHITECTURE.md, "Rooms"): which room may import which.
 * A room is a top-level folder of source; a file may always import its own room.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  core: ['errors'],
  hsm: ['errors'],
  ops: ['errors', 'core'],
  simulators: ['errors', 'core'],
  fhir: ['errors', 'core'],
  ca: ['errors', 'core', 'hsm', 'ops'],
  gateway: ['errors', 'core', 'hsm', 'ca', 'ops'],
  broker: ['errors', 'core', 'hsm', 'ca', 'ops', 'fhir'],
  cli: ['errors', 'core', 'hsm', 'ca', 'ops', 'fhir', 'simulators', 'gateway', 'broker'],
  bench: ['errors', 'core', 'hsm', 'ca', 'ops', 'fhir', 'simulators', 'gateway', 'broker', 'cli'],
};

export interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly why: string;
}

/** Relative module specifiers of a source text: static imports, re-exports, import(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) if (m[1]) out.push(m[1]);
  return out;
}

/** The rule broken by `file` (repo-relative) importing `spec`, if any. */
export function judge(root: string, file: string, spec: string): Violation | undefined {
  const from = file.split('/')[0] ?? '';
  const target = relative(root, resolve(root, dirname(file), spec)).split(sep);
  const to = target.length > 1 ? (target[0] ?? '') : '';
  if (to === from) return undefined;
  const allowed = ALLOWED[from];
  if (!allowed) return { file, imports: spec, why: `room '${from}' has no import rule` };
  if (to === '' || to === '..') return { file, imports: spec, why: 'imports outside every room' };
  if (!allowed.includes(to)) {
    return { file, imports: spec, why: `'${from}' may not import '${to}'` };
  }
  return undefined;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every room's TypeScript files checked against ALLOWED. */
export function violations(root: string): { files: number; found: Violation[] } {
  const found: Violation[] = [];
  let files = 0;
  for (const room of Object.keys(ALLOWED)) {
    for (const path of sources(join(root, room))) {
      files += 1;
      const file = relative(root, path).split(sep).join('/');
      for (const spec of specifiers(readFileSync(path, 'utf8'))) {
        const v = judge(root, file, spec);
        if (v) found.push(v);
      }
    }
  }
  return { files, found };
}

/** Top-level folders holding TypeScript that are neither rooms nor tests/tooling. */
export function unruledRooms(root: string): string[] {
  const skip = new Set(['node_modules', 'dist', 'test', '.git']);
  return readdirSync(root).filter((name) => {
    const p = join(root, name);
    if (skip.has(name) || name.startsWith('.') || !statSync(p).isDirectory()) return false;
    return ALLOWED[name] === undefined && sources(p).length > 0;
  });
}
