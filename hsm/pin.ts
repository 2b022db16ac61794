import { readFileSync } from 'node:fs';
import { HsmCode, HsmError } from './errors.js';

export const USER_PIN_ENV = 'MEDCHAIN_HSM_PIN';
export const SO_PIN_ENV = 'MEDCHAIN_HSM_SO_PIN';

export interface PinSource {
  /** A file holding the PIN (trailing newline ignored); wins over the environment. */
  file?: string | undefined;
  /** Environment variable to read when no file is given. */
  env: string;
  /** What the PIN is for, for the error message. */
  what: string;
}

/**
 * Reads a PIN from a file or the environment. PINs are never taken from argv:
 * command lines are visible to every user of the machine through /proc.
 */
export function readPin(source: PinSource): string {
  let pin: string | undefined;
  if (source.file !== undefined) {
    try {
      pin = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new HsmError(
        HsmCode.PinMissing,
        `Cannot read the ${source.what} from ${source.file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  } else {
    pin = process.env[source.env];
  }
  if (pin === undefined || pin.length === 0) {
    throw new HsmError(
      HsmCode.PinMissing,
      `No ${source.what}: set ${source.env} or pass a PIN file${source.file ? ` (${source.file} is empty)` : ''}.`,
    );
  }
  if (pin.length < 4 || pin.length > 255) {
    throw new HsmError(HsmCode.BadInput, `The ${source.what} must be 4 to 255 characters long.`);
  }
  return pin;
}
