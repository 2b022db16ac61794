/**
 * What makes an export self-contained: the notary id the chain belongs to, Trent's root
 * and the signing certificates seen. Id and root are set once and never changed.
 */
import type { Queryable } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';
import { BrokerCode, BrokerError } from './errors.js';

async function meta(db: Queryable, k: string): Promise<string | undefined> {
  return (await db.get<{ v: string }>('SELECT v FROM meta WHERE k = ?', [k]))?.v;
}

/** Records Trent's root (DER); refuses to change it. */
export async function setRoot(db: Queryable, der: Uint8Array): Promise<void> {
  const hex = Buffer.from(der).toString('hex');
  const v = await meta(db, 'root');
  if (v === undefined) await db.run("INSERT INTO meta (k, v) VALUES ('root', ?)", [hex]);
  else if (v !== hex) {
    throw new BrokerError(
      BrokerCode.Store,
      'this chain was registered under another Trent root; refusing to mix trust anchors',
    );
  }
}

export async function trustRoot(db: Queryable): Promise<Uint8Array | undefined> {
  const v = await meta(db, 'root');
  return v === undefined ? undefined : new Uint8Array(Buffer.from(v, 'hex'));
}

/** Records the notary id this chain belongs to; refuses to change it. */
export async function setNotaryId(db: Queryable, id: string): Promise<void> {
  const v = await meta(db, 'notary_id');
  if (v === undefined) await db.run("INSERT INTO meta (k, v) VALUES ('notary_id', ?)", [id]);
  else if (v !== id) {
    throw new BrokerError(BrokerCode.Store, `this chain belongs to notary '${v}', not '${id}'`);
  }
}

export function notaryId(db: Queryable): Promise<string | undefined> {
  return meta(db, 'notary_id');
}

export async function putCertificate(
  db: Queryable,
  kid: Uint8Array,
  der: Uint8Array,
  at: number,
): Promise<void> {
  await db.run(
    'INSERT INTO certificates (kid, der, added_at) VALUES (?, ?, ?) ON CONFLICT (kid) DO NOTHING',
    [kid, der, at],
  );
}

export async function allCertificates(
  db: Queryable,
): Promise<{ kid: Uint8Array; der: Uint8Array }[]> {
  const rows = await db.all<{ kid: Buffer; der: Buffer }>(
    'SELECT kid, der FROM certificates ORDER BY added_at, kid',
  );
  return rows.map((r) => ({ kid: u8(r.kid), der: u8(r.der) }));
}
