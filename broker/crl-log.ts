/**
 * Trent's CRLs as the notary installed them (table `crls`, append-only), kept so the
 * chain export can carry them: an auditor then judges each block's certificate at its
 * registration time with nothing but the export and Trent's root.
 */
import type { Queryable } from '../ops/sqlite.js';

export interface StoredCrl {
  /** The CRL's DER bytes exactly as Trent signed them. */
  readonly der: Uint8Array;
  /** Its thisUpdate (ms). */
  readonly thisUpdate: number;
}

/** Records a CRL once (the same bytes again are ignored). */
export async function recordCrl(db: Queryable, crl: StoredCrl, at: number): Promise<void> {
  await db.run(
    'INSERT INTO crls (der, this_update, added_at) VALUES (?, ?, ?) ON CONFLICT (der) DO NOTHING',
    [crl.der, crl.thisUpdate, at],
  );
}

/** Every CRL recorded, oldest thisUpdate first. */
export async function storedCrls(db: Queryable): Promise<StoredCrl[]> {
  const rows = await db.all<{ der: Buffer; this_update: number }>(
    'SELECT der, this_update FROM crls ORDER BY this_update, id',
  );
  return rows.map((r) => ({ der: new Uint8Array(r.der), thisUpdate: r.this_update }));
}
