import type { ResourceType } from './resources.js';

/**
 * manifest.json of a directory export, in the shape of a FHIR Bulk Data export
 * response (Bulk Data Access IG, "Response - Complete Status"). There was no kick-off
 * URL: `request` names the command and its input, and each `url` is relative to the
 * manifest, so the directory can be moved or served as it is.
 */
export interface BulkManifest {
  readonly transactionTime: string;
  readonly request: string;
  readonly requiresAccessToken: boolean;
  readonly output: readonly {
    readonly type: ResourceType;
    readonly url: string;
    readonly count: number;
  }[];
  readonly error: readonly { readonly type: 'OperationOutcome'; readonly url: string }[];
}

export const ndjsonFile = (type: ResourceType) => `${type}.ndjson`;

export function bulkManifest(
  transactionTime: number,
  request: string,
  counts: ReadonlyMap<ResourceType, number>,
): BulkManifest {
  return {
    transactionTime: new Date(transactionTime).toISOString(),
    request,
    // Files on disk: whoever can read the directory can read them.
    requiresAccessToken: false,
    output: [...counts]
      .filter(([, n]) => n > 0)
      .map(([type, count]) => ({ type, url: ndjsonFile(type), count })),
    error: [],
  };
}
