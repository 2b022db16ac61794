/**
 * Opening the chain database: schema creation and versions. A database of schema 1
 * (before `merkle_nodes`) is upgraded at open: chain-load.ts builds the node table from
 * the entries it verifies, then markNodesBuilt() records schema 2.
 */
import { SqliteDb, type SqliteOptions } from '../ops/sqlite.js';
import { SCHEMA, SCHEMA_VERSION, SCHEMA_WITHOUT_NODES } from './chain-schema.js';
import { BrokerCode, BrokerError } from './errors.js';

export interface OpenedChainDb {
  readonly db: SqliteDb;
  /** The node table may lack a suffix of nodes that chain-load.ts must build. */
  readonly buildNodes: boolean;
}

export async function openChainDb(path: string, opts: SqliteOptions): Promise<OpenedChainDb> {
  const db = await SqliteDb.open(path, { synchronous: 'FULL', ...opts });
  try {
    await db.exec(SCHEMA);
    const v = await db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'schema'");
    if (!v) {
      await db.run("INSERT INTO meta (k, v) VALUES ('schema', ?)", [SCHEMA_VERSION]);
      return { db, buildNodes: false };
    }
    if (v.v === SCHEMA_WITHOUT_NODES) return { db, buildNodes: true };
    if (v.v !== SCHEMA_VERSION) {
      throw new BrokerError(
        BrokerCode.Store,
        `${path}: schema ${v.v}, this notary reads ${SCHEMA_WITHOUT_NODES} and ${SCHEMA_VERSION}`,
      );
    }
    return { db, buildNodes: false };
  } catch (err) {
    await db.close();
    throw err;
  }
}

export async function markNodesBuilt(db: SqliteDb): Promise<void> {
  await db.run("UPDATE meta SET v = ? WHERE k = 'schema'", [SCHEMA_VERSION]);
}
