/**
 * The version this process runs: package.json's, found by walking up from this file
 * (ops/ under the test runner's loader, dist/ops/ when built), read once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

export function medchainVersion(): string {
  if (cached !== undefined) return cached;
  let dir = import.meta.dirname;
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'medchain' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json of medchain not found above ops/build-info');
    dir = up;
  }
}
