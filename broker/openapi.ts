/**
 * The notary HTTP API (broker/http-api.ts) as OpenAPI 3.1, served at GET /openapi.json.
 * Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); test/broker/openapi.test.ts
 * validates every real answer of a running notary against them with ajv.
 * Byte fields are standard padded base64 of the exact signed or hashed bytes; `…Hex`
 * fields repeat hashes in lowercase hex for people, never for verification.
 */
const b64 = { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$', contentEncoding: 'base64' };
const hex32 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const height = { type: 'integer', minimum: 1 };
const size = { type: 'integer', minimum: 0 };
const ms = { type: 'integer', minimum: 0, description: 'ms since 1970-01-01T00:00:00Z' };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const json = (schema: unknown, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});
const e400 = { '400': json(ref('Error'), 'a parameter is missing or malformed') };
const e404 = { '404': json(ref('Error'), 'no such height, hash, anchor or certificate') };
const q = (name: string, description: string, required = false) => ({
  name,
  in: 'query',
  required,
  description,
  schema: { type: 'string', pattern: '^\\d{1,15}$' },
});

const erased = {
  oneOf: [{ type: 'null' }, obj({ at: ms, reason: { type: 'string' } }, ['at', 'reason'])],
};

export const NOTARY_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'medchain notary HTTP API',
    version: '1',
    description:
      'Read-only view of one notary chain (docs/OPERATIONS-notary.md, docs/FORMAT.md). Heights are 1-based; the Merkle leaf of entry n is leafHash(H(n)) at index n-1 (RFC 9162). Anything that is verified is the base64 bytes; the hex and plain fields are for reading.',
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  paths: {
    '/checkpoint': {
      get: {
        summary: 'The latest signed checkpoint',
        responses: { '200': json(ref('Checkpoint')) },
      },
    },
    '/entries': {
      get: {
        summary: 'Entries by height range (at most 1000)',
        parameters: [q('from', 'first height (default 1)'), q('to', 'last height (default: size)')],
        responses: { '200': json(ref('Entries')), ...e400 },
      },
    },
    '/proof/inclusion': {
      get: {
        summary: 'Inclusion proof of an entry, by height or by internal hash h(n)',
        parameters: [
          q('height', 'the entry (or give internal)'),
          {
            name: 'internal',
            in: 'query',
            description: 'h(n), 64 hex digits',
            schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          },
          q('size', 'tree size (default: current)'),
        ],
        responses: { '200': json(ref('Inclusion')), ...e400, ...e404 },
      },
    },
    '/proof/consistency': {
      get: {
        summary: 'Consistency proof between two tree sizes',
        parameters: [q('from', 'older size', true), q('to', 'newer size (default: current)')],
        responses: { '200': json(ref('Consistency')), ...e400 },
      },
    },
    '/block/{height}': {
      get: {
        summary: 'The internal block registered at a height (body encrypted, or empty once erased)',
        parameters: [{ name: 'height', in: 'path', required: true, schema: height }],
        responses: { '200': json(ref('Block')), ...e404 },
      },
    },
    '/anchor': {
      get: {
        summary: 'The first upstream-receipted anchor covering a height',
        parameters: [q('height', 'the entry', true)],
        responses: { '200': json(ref('Anchor')), ...e400, ...e404 },
      },
    },
    '/feed': {
      get: {
        summary: 'The chain feed by range, for replicas (at most 1000 items, 8 MiB of bodies)',
        parameters: [q('from', 'first height (default 1)'), q('to', 'last height')],
        responses: { '200': json(ref('Feed')), ...e400 },
      },
    },
    '/certificate/{kid}': {
      get: {
        summary: 'A signing certificate the chain names, by kid (SHA-256 of its DER)',
        parameters: [{ name: 'kid', in: 'path', required: true, schema: hex32 }],
        responses: { '200': json(ref('Certificate')), ...e404 },
      },
    },
    '/fhir/StructureDefinition/{id}': {
      get: {
        summary: "The StructureDefinition of one of medchain's FHIR extensions (docs/FHIR.md)",
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              resourceType: { const: 'StructureDefinition' },
              id: { type: 'string' },
              url: { type: 'string' },
            },
            required: ['resourceType', 'id', 'url'],
          }),
          ...e404,
        },
      },
    },
    '/openapi.json': {
      get: { summary: 'This description', responses: { '200': json({ type: 'object' }) } },
    },
    '/console': {
      get: {
        summary: 'The read-only web console (HTML pages under /console/)',
        responses: { '200': { description: 'HTML', content: { 'text/html': {} } } },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: {
          '200': { description: 'Prometheus text format', content: { 'text/plain': {} } },
        },
      },
    },
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } },
    '/readyz': {
      get: {
        summary: 'Readiness',
        responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
      },
    },
  },
  components: {
    schemas: {
      Error: obj({ error: { type: 'string' } }, ['error']),
      Checkpoint: obj(
        {
          checkpoint: {
            ...b64,
            description: 'COSE_Sign1 of [2, notaryId, size, head, logRoot, time]',
          },
          notaryId: { type: 'string' },
          size,
          time: ms,
          headHex: hex32,
          rootHex: hex32,
        },
        ['checkpoint'],
      ),
      Entries: obj(
        {
          entries: {
            type: 'array',
            maxItems: 1000,
            items: obj(
              {
                height,
                entry: { ...b64, description: 'entry n as signed (docs/FORMAT.md)' },
                entryHash: b64,
                receipt: { oneOf: [b64, { type: 'null' }] },
                submitter: { type: 'string' },
                registeredAt: ms,
                entryHashHex: hex32,
                internalHex: hex32,
                prevHex: hex32,
              },
              ['height', 'entry', 'entryHash', 'receipt'],
            ),
          },
        },
        ['entries'],
      ),
      Inclusion: obj(
        {
          height,
          size,
          leafIndex: size,
          entryHash: b64,
          proof: { type: 'array', items: b64 },
          root: b64,
          entryHashHex: hex32,
          proofHex: { type: 'array', items: hex32 },
          rootHex: hex32,
        },
        ['height', 'size', 'leafIndex', 'entryHash', 'proof', 'root'],
      ),
      Consistency: obj(
        {
          from: size,
          to: size,
          proof: { type: 'array', items: b64 },
          root1: b64,
          root2: b64,
          proofHex: { type: 'array', items: hex32 },
          root1Hex: hex32,
          root2Hex: hex32,
        },
        ['from', 'to', 'proof', 'root1', 'root2'],
      ),
      Block: obj(
        {
          height,
          gateway: { type: 'string' },
          seq: { type: 'integer', minimum: 1 },
          kid: b64,
          signedHeader: b64,
          body: b64,
          erased,
          kidHex: hex32,
          bodyHashHex: hex32,
          bodyBytes: size,
        },
        ['height', 'gateway', 'seq', 'kid', 'signedHeader', 'body', 'erased'],
      ),
      Anchor: obj(
        {
          height,
          upstreamSeq: { type: 'integer', minimum: 1 },
          size,
          block: b64,
          receipt: b64,
          proof: { type: 'array', items: b64 },
          proofHex: { type: 'array', items: hex32 },
        },
        ['height', 'upstreamSeq', 'size', 'block', 'receipt', 'proof'],
      ),
      Feed: obj(
        {
          size,
          items: {
            type: 'array',
            items: obj(
              {
                height,
                entry: b64,
                signedHeader: b64,
                body: b64,
                erased,
                receipt: { oneOf: [b64, { type: 'null' }] },
              },
              ['height', 'entry', 'signedHeader', 'body', 'erased', 'receipt'],
            ),
          },
        },
        ['size', 'items'],
      ),
      Certificate: obj(
        {
          kid: b64,
          der: b64,
          kidHex: hex32,
          subject: { type: 'string' },
          serialHex: { type: 'string', pattern: '^[0-9a-f]+$' },
          notBefore: { type: 'string' },
          notAfter: { type: 'string' },
        },
        ['kid', 'der'],
      ),
    },
  },
} as const;
