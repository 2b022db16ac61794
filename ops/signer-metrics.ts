/**
 * Metrics of the supervised HSM signer child (hsm/child-signer.ts) of a service: whether
 * it is up, how often it was restarted, and its own CPU time and memory, read from
 * /proc at each scrape (two small files; absent on systems without /proc).
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the metrics read of a ChildSigner. */
export interface SignerView {
  readonly up: boolean;
  readonly pid: number | undefined;
  readonly restarts: number;
}

/** Linux reports CPU times in /proc in units of USER_HZ, 100 on every architecture Node runs on. */
const USER_HZ = 100;

interface ProcUsage {
  cpuSeconds: number;
  rssBytes: number;
}

function procUsage(pid: number): ProcUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state, field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime (14), stime (15)
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuSeconds: ticks / USER_HZ, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return undefined; // no /proc, or the child has just exited
  }
}

export function registerSignerMetrics(registry: Registry, signer: SignerView, token: string) {
  const labels = { token };
  const usage = () => (signer.pid === undefined ? undefined : procUsage(signer.pid));
  new Gauge({
    name: 'medchain_hsm_signer_up',
    help: '1 while the HSM signer child process is running with its token open',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      this.set(labels, signer.up ? 1 : 0);
    },
  });
  new Counter({
    name: 'medchain_hsm_signer_restarts_total',
    help: 'Times the HSM signer child was restarted after it died or stopped answering',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      // The signer counts; the counter mirrors it (it never decreases within a process).
      this.reset();
      this.inc(labels, signer.restarts);
    },
  });
  new Gauge({
    name: 'medchain_hsm_signer_pid',
    help: 'Process id of the HSM signer child (absent while it is down)',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (signer.pid !== undefined) this.set(labels, signer.pid);
    },
  });
  new Counter({
    name: 'medchain_hsm_signer_cpu_seconds_total',
    help: 'CPU time (user and system) of the current HSM signer child; starts again at a restart',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const u = usage();
      if (u) this.inc(labels, u.cpuSeconds);
    },
  });
  new Gauge({
    name: 'medchain_hsm_signer_resident_memory_bytes',
    help: 'Resident memory of the HSM signer child',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const u = usage();
      if (u) this.set(labels, u.rssBytes);
    },
  });
}
