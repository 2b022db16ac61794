/** One core's ECDSA P-256 verify rate, for bench/verify.ts (one worker per core). */
import { parentPort, workerData } from 'node:worker_threads';
import { ecdsaRate } from './verify.js';

parentPort?.postMessage(ecdsaRate((workerData as { ms: number }).ms));
