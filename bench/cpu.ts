/**
 * CPU time of a process and its descendants (the gateway's HSM signer child, worker
 * threads count with their process) from the kernel's own accounting in /proc (Linux):
 * utime + stime, which a loaded machine distorts far less than wall time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { childrenOf } from './procs.js';

let ticks: number | undefined;

/** Clock ticks per second of /proc/PID/stat (CLK_TCK; 100 on Linux). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime + stime of one process (all its threads), seconds; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): state is 3rd.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and every live descendant. */
export function treeCpuSeconds(pid: number): number {
  return cpuSecondsOf(pid) + childrenOf(pid).reduce((s, c) => s + treeCpuSeconds(c), 0);
}

/** A CPU meter over a set of process trees: start(), then stop() gives seconds used. */
export function cpuMeter(pids: () => readonly number[]) {
  let t0 = 0;
  return {
    start() {
      t0 = pids().reduce((s, p) => s + treeCpuSeconds(p), 0);
    },
    stop(): number {
      return pids().reduce((s, p) => s + treeCpuSeconds(p), 0) - t0;
    },
  };
}
