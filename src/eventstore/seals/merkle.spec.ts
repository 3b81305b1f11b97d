import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  consistencyProof,
  EMPTY_ROOT,
  eventLeaf,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const leaves = Array.from({ length: 40 }, (_, i) => eventLeaf(createHash('sha256').update(`event ${i}`).digest('hex')));

describe('RFC 6962 tree hashing', () => {
  test('the empty tree, one leaf and the largest-power-of-two split', () => {
    assert.deepEqual(rootOf([]), EMPTY_ROOT);
    assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // RFC 6962 leaf: SHA-256(0x00 || "") — the known value of Certificate Transparency's test vectors.
    assert.equal(
      leafHash(Buffer.alloc(0)).toString('hex'),
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    const [a, b, c] = leaves as [Buffer, Buffer, Buffer];
    assert.deepEqual(rootOf([a, b, c]), nodeHash(nodeHash(a, b), c));
  });

  test('the incremental frontier gives the recursive root at every size', () => {
    const f = new MerkleFrontier();
    for (let n = 1; n <= leaves.length; n++) {
      f.append(leaves[n - 1]!);
      assert.deepEqual(f.root(), rootOf(leaves.slice(0, n)), `size ${n}`);
    }
  });

  test('every inclusion proof verifies, and fails for another leaf, index or root', () => {
    for (let n = 1; n <= 20; n++) {
      const root = rootOf(leaves.slice(0, n));
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(leaves, m, n);
        assert.ok(verifyInclusion(leaves[m]!, m, n, proof, root), `leaf ${m} of ${n}`);
        assert.ok(!verifyInclusion(leaves[n]!, m, n, proof, root), `another leaf at ${m} of ${n}`);
        if (n > 1) assert.ok(!verifyInclusion(leaves[m]!, (m + 1) % n, n, proof, root), `leaf ${m} moved`);
        assert.ok(!verifyInclusion(leaves[m]!, m, n, proof, leaves[39]!), 'another root');
      }
    }
  });

  test('every consistency proof verifies, and fails when the older tree was changed', () => {
    for (let n = 1; n <= 20; n++) {
      const second = rootOf(leaves.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const first = rootOf(leaves.slice(0, m));
        const proof = consistencyProof(leaves, m, n);
        assert.ok(verifyConsistency(m, n, proof, first, second), `${m} → ${n}`);
        if (m < n) {
          const forged = rootOf([leaves[39]!, ...leaves.slice(1, m)]);
          assert.ok(!verifyConsistency(m, n, proof, forged, second), `${m} → ${n} with a rewritten prefix`);
        }
      }
    }
  });
});
