/**
 * Base class of every error medchain raises on purpose. `code` is stable
 * (scripts, metrics and docs key on it); `message` tells an operator what to do.
 */
export class MedchainError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export function isMedchainError(err: unknown, code?: string): err is MedchainError {
  return err instanceof MedchainError && (code === undefined || err.code === code);
}
