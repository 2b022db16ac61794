import { createHash } from 'node:crypto';
import t from 'tap';
import { BAD_INPUT, toHex } from '../../core/bytes.js';
import { sha256, Tag, taggedHash } from '../../core/hash.js';

// Known answers (FIPS 180-4 examples; `printf abc | sha256sum`).
t.test('sha256 known answers', async (t) => {
  t.equal(
    toHex(sha256(new Uint8Array())),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
  t.equal(
    toHex(sha256(Buffer.from('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});

t.test('the tag table is the one the format documents', async (t) => {
  t.same(
    { ...Tag },
    {
      MerkleLeaf: 0x00,
      MerkleNode: 0x01,
      BlockBody: 0x10,
      InternalBlock: 0x11,
      Entry: 0x20,
      Checkpoint: 0x21,
    },
  );
});

t.test(
  'taggedHash is SHA-256(tag || parts) on both the one-shot and streaming paths',
  async (t) => {
    const ref = (tag: number, ...parts: Uint8Array[]) => {
      const h = createHash('sha256').update(Uint8Array.of(tag));
      for (const p of parts) h.update(p);
      return toHex(h.digest());
    };
    // `printf '\x00' | sha256sum` is the RFC 9162 hash of an empty leaf.
    t.equal(
      toHex(taggedHash(Tag.MerkleLeaf)),
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    for (const size of [0, 1, 64, 16383, 16384, 70000]) {
      const a = new Uint8Array(size).fill(7);
      const b = Uint8Array.of(1, 2, 3);
      for (const tag of Object.values(Tag)) {
        t.equal(toHex(taggedHash(tag, a, b)), ref(tag, a, b), `tag ${tag}, ${size}+3 bytes`);
      }
    }
    t.not(
      toHex(taggedHash(Tag.Entry, Uint8Array.of(1))),
      toHex(taggedHash(Tag.Checkpoint, Uint8Array.of(1))),
    );
  },
);

t.test('bad input is refused with a code naming the parameter', async (t) => {
  t.throws(() => taggedHash(0x7f as Tag), { code: BAD_INPUT, message: /tag/ });
  t.throws(() => taggedHash(Tag.Entry, 'x' as unknown as Uint8Array), {
    code: BAD_INPUT,
    message: /parts\[0\]/,
  });
  t.throws(() => sha256(undefined as unknown as Uint8Array), { code: BAD_INPUT, message: /bytes/ });
});
