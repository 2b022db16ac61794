import { createSoftHsmSandbox, initToken, type SoftHsmSandbox } from '../../hsm/softhsm.js';

export const SO_PIN = '87654321';
export const USER_PIN = '24681357';

/**
 * A fresh SoftHSM2 directory for this test process with the named tokens
 * initialised through PKCS#11; removed when the test ends.
 */
export function softHsmFixture(
  t: { teardown(fn: () => void): void },
  labels: string[],
): SoftHsmSandbox {
  const sandbox = createSoftHsmSandbox({ useInProcess: true });
  t.teardown(() => sandbox.cleanup());
  for (const label of labels) initToken({ label, soPin: SO_PIN, userPin: USER_PIN });
  return sandbox;
}
