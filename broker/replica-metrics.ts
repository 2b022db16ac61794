/** Prometheus metrics of one replica (prom-client, own registry). */
import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from '../ops/process-metrics.js';

export class ReplicaMetrics {
  readonly registry = new Registry();
  readonly entries = new Gauge({
    name: 'medchain_replica_entries',
    help: 'Entries held in the verified copy',
    registers: [this.registry],
  });
  readonly followed = new Counter({
    name: 'medchain_replica_entries_followed_total',
    help: 'Entries verified and stored since start',
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: 'medchain_replica_lag_entries',
    help: 'Entries the notary reported beyond the verified copy at the last contact',
    registers: [this.registry],
  });
  readonly forks = new Counter({
    name: 'medchain_replica_forks_total',
    help: 'Forks detected: two signed statements of the notary that disagree',
    registers: [this.registry],
  });
  readonly forked = new Gauge({
    name: 'medchain_replica_forked',
    help: '1 once the database holds fork evidence (the replica stops following)',
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'medchain_replica_refusals_total',
    help: 'Items or checkpoints from the notary that did not verify, by check',
    labelNames: ['check'] as const,
    registers: [this.registry],
  });
  readonly checkpoints = new Counter({
    name: 'medchain_replica_checkpoints_total',
    help: 'Signed checkpoints received, by verdict (accepted, known, ahead, fork)',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });
  readonly sourceErrors = new Counter({
    name: 'medchain_replica_source_errors_total',
    help: 'Failed contacts with the notary (retried with backoff)',
    registers: [this.registry],
  });

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults) registerProcessMetrics(this.registry);
  }
}
