/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): self time by function and by where
 * the code lives (our rooms, each dependency, node internals, idle, GC), to name the
 * bottleneck of a process without a profiler UI.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  readonly file: string;
  readonly seconds: number;
  /** Share of samples, percent, by area (a room of ours, a package, node:, gc, idle). */
  readonly byArea: Record<string, number>;
  readonly topFunctions: { readonly fn: string; readonly pct: number }[];
}

/** Where a frame's code lives: 'gateway/', 'sqlite3', 'node:', '(idle)', ... */
export function areaOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return 'node:';
  const room = /\/dist\/([a-z]+)\//.exec(url);
  return room?.[1] ? `${room[1]}/` : '(other)';
}

export function summariseProfile(file: string, top = 12): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  if (p.samples) for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  let total = 0;
  const byArea: Record<string, number> = {};
  const byFn: Record<string, number> = {};
  for (const n of p.nodes) {
    const h = hits.get(n.id) ?? n.hitCount ?? 0;
    if (h === 0) continue;
    total += h;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    byArea[area] = (byArea[area] ?? 0) + h;
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '')}:${lineNumber + 1}`;
    byFn[name] = (byFn[name] ?? 0) + h;
  }
  const pct = (h: number) => Math.round((h / Math.max(1, total)) * 1000) / 10;
  const sorted = (o: Record<string, number>) => Object.entries(o).sort((a, b) => b[1] - a[1]);
  return {
    file,
    seconds: Math.round((p.endTime - p.startTime) / 1e5) / 10,
    byArea: Object.fromEntries(sorted(byArea).map(([k, v]) => [k, pct(v)])),
    topFunctions: sorted(byFn)
      .slice(0, top)
      .map(([fn, h]) => ({ fn, pct: pct(h) })),
  };
}
