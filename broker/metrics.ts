/**
 * Prometheus metrics of one notary (prom-client, own registry so two notaries in one
 * process — tests, demo — never collide).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class NotaryMetrics {
  lastCheckpointAt = 0;
  readonly registry = new Registry();
  readonly certificateExpiry = new Gauge({
    name: 'medchain_notary_certificate_expiry_seconds',
    help: 'Seconds until the certificate expires (negative once expired); warning under 30 days',
    labelNames: ['certificate'] as const,
    registers: [this.registry],
  });
  readonly entries = new Gauge({
    name: 'medchain_notary_entries',
    help: 'Chain size: entries registered',
    registers: [this.registry],
  });
  readonly registered = new Counter({
    name: 'medchain_notary_registered_total',
    help: 'Blocks registered (new entries) since start',
    registers: [this.registry],
  });
  readonly replays = new Counter({
    name: 'medchain_notary_replays_total',
    help: 'Blocks submitted again and answered with their stored receipt',
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'medchain_notary_refusals_total',
    help: 'Submitted blocks refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly admission = new Counter({
    name: 'medchain_notary_admission_refusals_total',
    help: 'MQTT connects, publishes and subscribes refused, by hook and reason',
    labelNames: ['hook', 'reason'] as const,
    registers: [this.registry],
  });
  readonly signSeconds = new Histogram({
    name: 'medchain_notary_sign_seconds',
    help: 'Latency of one receipt or checkpoint signature on the token',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'medchain_notary_batch_size',
    help: 'Registrations committed per SQLite transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly queue = new Gauge({
    name: 'medchain_notary_queue',
    help: 'Submissions waiting for the registrar',
    registers: [this.registry],
  });
  readonly checkpointAge = new Gauge({
    name: 'medchain_notary_checkpoint_age_seconds',
    help: 'Seconds since the last signed checkpoint (0 before the first)',
    registers: [this.registry],
    collect: () => {
      const at = this.lastCheckpointAt;
      this.checkpointAge.set(at === 0 ? 0 : (Date.now() - at) / 1000);
    },
  });
  readonly upstreamLag = new Gauge({
    name: 'medchain_notary_upstream_lag_entries',
    help: 'Entries of this chain not yet covered by an anchor receipt from the upstream notary',
    registers: [this.registry],
  });
  readonly crlUpdates = new Counter({
    name: 'medchain_notary_crl_updates_total',
    help: 'CRLs received, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults) collectDefaultMetrics({ register: this.registry });
  }
}
