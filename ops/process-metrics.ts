/**
 * Process metrics every medchain service exposes: prom-client's defaults (CPU, memory,
 * file descriptors, event loop, GC) and `medchain_build_info`. prom-client also
 * registers three gauges named `nodejs_active_{handles,requests,resources}_total`;
 * Prometheus reserves `_total` for counters (`promtool check metrics` refuses them),
 * and their labelled siblings `nodejs_active_{handles,requests,resources}{type}` carry
 * the same numbers (sum them), so those three are removed rather than renamed.
 */
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { medchainVersion } from './build-info.js';

const MISNAMED_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_GAUGES) registry.removeSingleMetric(name);
  new Gauge({
    name: 'medchain_build_info',
    help: 'Always 1; the labels say which medchain version runs on which Node.js',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: medchainVersion(), node: process.version }, 1);
}
