/**
 * Child processes of the benchmark (brokers, consumer, gateway, notary): every one is
 * tracked so a failing or interrupted run still ends them, and their resident memory
 * is read from /proc (Linux), their own and with their children (the HSM signer).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const running = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** SIGKILLs every tracked child still running (failure path; the normal path stops them). */
export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

// A run that throws or is interrupted must not leave brokers behind.
process.once('exit', killAll);
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(code);
  });
}

/** Ends a child with SIGTERM, then SIGKILL after graceMs; resolves on exit. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** Resident set size of one process in MB; 0 once it is gone. */
export function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** The live child processes of a process (Linux /proc). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** RSS of a process and all its descendants, MB. */
export function treeRssMB(pid: number): number {
  return rssMB(pid) + childrenOf(pid).reduce((s, c) => s + treeRssMB(c), 0);
}

/** Samples a process's RSS every intervalMs until stop(); reports the largest and last. */
export function sampleRss(pid: number, intervalMs = 250) {
  let max = rssMB(pid);
  let maxTree = treeRssMB(pid);
  const first = max;
  const timer = setInterval(() => {
    max = Math.max(max, rssMB(pid));
    maxTree = Math.max(maxTree, treeRssMB(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return { firstMB: first, maxMB: max, lastMB: rssMB(pid), maxTreeMB: maxTree };
    },
  };
}
