/**
 * The gateway's Prometheus metrics, on a registry of its own (two gateways in one
 * process, as in tests, do not share counters). Names are listed in docs/GATEWAY.md.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function gatewayMetrics() {
  const registry = new Registry();
  const r = [registry];
  return {
    registry,
    accepted: new Counter({
      name: 'medchain_gateway_readings_accepted_total',
      help: 'Readings validated and committed to the spool (PUBACK sent after commit)',
      registers: r,
    }),
    rejected: new Counter({
      name: 'medchain_gateway_readings_rejected_total',
      help: 'Readings refused, by reason (core ReadingReason, conflict, pushback, store-error)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    intakeHeld: new Counter({
      name: 'medchain_gateway_intake_held_total',
      help: 'Spool commits (and their PUBACKs) held back so that sealing catches up (batch.holdIntakeAbove)',
      registers: r,
    }),
    duplicates: new Counter({
      name: 'medchain_gateway_readings_duplicate_total',
      help: 'Readings whose (device, seq) was already spooled with the same bytes: acknowledged, not stored again',
      registers: r,
    }),
    gaps: new Counter({
      name: 'medchain_gateway_seq_gap_readings_total',
      help: 'Sequence numbers skipped by devices (missing readings)',
      registers: r,
    }),
    lateReadings: new Counter({
      name: 'medchain_gateway_seq_late_readings_total',
      help: 'Readings stored with a seq below the device highest: they fill holes counted as gaps before',
      registers: r,
    }),
    skewed: new Counter({
      name: 'medchain_gateway_clock_skewed_total',
      help: 'Readings whose device clock is beyond the allowed skew (kept, flagged)',
      registers: r,
    }),
    clockReset: new Counter({
      name: 'medchain_gateway_clock_reset_total',
      help: 'Readings whose device time is before 2000 (a reset clock): kept, flagged, never corrected',
      registers: r,
    }),
    protocolRefused: new Counter({
      name: 'medchain_gateway_protocol_refused_total',
      help: 'Device connections closed for an MQTT protocol violation, by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    keepaliveCapped: new Counter({
      name: 'medchain_gateway_keepalive_capped_total',
      help: 'Device CONNECTs whose keepalive (0 or above devices.keepaliveLimitS) was capped to the limit',
      registers: r,
    }),
    connectRefused: new Counter({
      name: 'medchain_gateway_connect_refused_total',
      help: 'Device CONNECTs refused, by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    aclDenied: new Counter({
      name: 'medchain_gateway_acl_denied_total',
      help: 'Device publishes or subscriptions denied by the ACL',
      labelNames: ['action'] as const,
      registers: r,
    }),
    certificateExpiry: new Gauge({
      name: 'medchain_gateway_certificate_expiry_seconds',
      help: 'Seconds until the certificate expires (negative once expired); warning under 30 days',
      labelNames: ['certificate'] as const,
      registers: r,
    }),
    backlogReadings: new Gauge({
      name: 'medchain_gateway_spool_backlog_readings',
      help: 'Spooled readings whose block has no receipt yet',
      registers: r,
    }),
    backlogBytes: new Gauge({
      name: 'medchain_gateway_spool_backlog_bytes',
      help: 'Bytes of spooled readings whose block has no receipt yet',
      registers: r,
    }),
    pushback: new Gauge({
      name: 'medchain_gateway_pushback',
      help: '1 while new readings are refused because the spool is at its limit',
      registers: r,
    }),
    sealed: new Counter({
      name: 'medchain_gateway_blocks_sealed_total',
      help: 'Blocks sealed and stored',
      registers: r,
    }),
    sealErrors: new Counter({
      name: 'medchain_gateway_seal_errors_total',
      help: 'Sealing attempts that failed (HSM, store)',
      registers: r,
    }),
    signSeconds: new Histogram({
      name: 'medchain_gateway_hsm_sign_seconds',
      help: 'HSM signature latency',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: r,
    }),
    receipts: new Counter({
      name: 'medchain_gateway_receipts_total',
      help: 'Receipts verified and stored',
      registers: r,
    }),
    receiptsRejected: new Counter({
      name: 'medchain_gateway_receipts_rejected_total',
      help: 'Answers from the notary whose receipt failed verification, by check',
      labelNames: ['check'] as const,
      registers: r,
    }),
    refusals: new Counter({
      name: 'medchain_gateway_notary_refusals_total',
      help: 'Blocks refused by the notary, by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    submitted: new Counter({
      name: 'medchain_gateway_blocks_submitted_total',
      help: 'Block submissions published to the notary (resends included)',
      registers: r,
    }),
    unreceipted: new Gauge({
      name: 'medchain_gateway_blocks_unreceipted',
      help: 'Sealed blocks without a receipt',
      registers: r,
    }),
    readingsPruned: new Counter({
      name: 'medchain_gateway_readings_pruned_total',
      help: 'Spooled readings deleted after their block receipt plus spool.retentionMs',
      registers: r,
    }),
    bodiesErased: new Counter({
      name: 'medchain_gateway_block_bodies_erased_total',
      help: 'Block bodies and salts erased by this process, by cause (retention)',
      labelNames: ['cause'] as const,
      registers: r,
    }),
    erasedBlocks: new Gauge({
      name: 'medchain_gateway_blocks_erased',
      help: 'Blocks whose body is erased in the database (retention and erasure requests)',
      registers: r,
    }),
    uplinkDownSeconds: new Gauge({
      name: 'medchain_gateway_uplink_down_seconds',
      help: 'How long the notary has been unreachable (0 while connected)',
      registers: r,
    }),
    oldestUnreceiptedSeconds: new Gauge({
      name: 'medchain_gateway_oldest_unreceipted_block_age_seconds',
      help: 'Age of the oldest sealed block still without a receipt (0: none)',
      registers: r,
    }),
    uplinkConnected: new Gauge({
      name: 'medchain_gateway_uplink_connected',
      help: '1 while the MQTT connection to the notary is up',
      registers: r,
    }),
    devicesConnected: new Gauge({
      name: 'medchain_gateway_devices_connected',
      help: 'Device MQTT connections',
      registers: r,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
