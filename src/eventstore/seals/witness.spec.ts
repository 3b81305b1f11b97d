import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { signSeal, GENESIS_SEAL } from './seal.js';
import { appendWitness, readWitness } from './witness.js';

describe('appendWitness', () => {
  test('writes off the event loop (nothing is on disk when the call returns) and the line is there once awaited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-witness-'));
    try {
      const file = join(dir, 'sub', 'witness.jsonl');
      const { privateKey } = generateKeyPairSync('ed25519');
      const seal = signSeal(
        {
          v: 1,
          sequence: 0,
          count: 1,
          position: '1',
          lastEventId: 'e1',
          root: '00'.repeat(32),
          previous: GENESIS_SEAL,
          heads: [],
          sealedAt: new Date(0).toISOString(),
        },
        privateKey,
      );
      const writing = appendWitness(file, seal);
      // A synchronous write (and its fsync) would have stopped the loop until here, the file made.
      assert.equal(existsSync(file), false);
      await writing;
      await appendWitness(file, { ...seal, sequence: 1 });
      assert.deepEqual(
        readWitness(file).map((s) => s.sequence),
        [0, 1],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
