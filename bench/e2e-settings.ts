/** How long, how many devices and how much load the end-to-end run uses, quick and full. */
export interface E2eSettings {
  readonly devices: number;
  readonly offeredPerSec: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly offlineMs: number;
}

export const QUICK: E2eSettings = {
  devices: 100,
  offeredPerSec: 5000,
  warmupMs: 1000,
  windowMs: 3000,
  offlineMs: 3000,
};
export const FULL: E2eSettings = {
  devices: 250,
  offeredPerSec: 12_000,
  warmupMs: 3000,
  windowMs: 20_000,
  offlineMs: 120_000,
};
