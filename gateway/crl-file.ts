/**
 * Trent's CRL as the file holds it now. Trent publishes a new CRL while the gateway
 * runs; device certificates are judged at each CONNECT, so the file is looked at again
 * (stat per call, re-read only when its mtime or size changed). A file that cannot be
 * read or is emptied keeps the last copy read, and says so once per change.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../ops/log.js';

export function crlFile(path: string, initial: string, log: Logger): () => string {
  let text = initial;
  let seen = '';
  try {
    const st = statSync(path);
    seen = `${st.mtimeMs}:${st.size}`;
  } catch {
    // judged at the first call
  }
  return () => {
    try {
      const st = statSync(path);
      const now = `${st.mtimeMs}:${st.size}`;
      if (now === seen) return text;
      seen = now;
      const next = readFileSync(path, 'utf8');
      if (next.trim() === '') throw new Error('the file is empty');
      text = next;
      log.info({ crl: path }, 'CRL re-read');
    } catch (err) {
      log.error({ crl: path, err: (err as Error).message }, 'CRL unreadable; keeping the last one');
    }
    return text;
  };
}
