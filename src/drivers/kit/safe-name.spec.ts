import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertSpecSizes } from './safe-name.js';

describe('assertSpecSizes: the live-resize ceilings', () => {
  const size = { vcpus: 2, memoryMiB: 256, diskGiB: 1 };

  test('absent, above or (no headroom) below the size: accepted', () => {
    assert.doesNotThrow(() => assertSpecSizes(size));
    assert.doesNotThrow(() => assertSpecSizes({ ...size, maxVcpus: 8, maxMemoryMiB: 1024 }));
    assert.doesNotThrow(() => assertSpecSizes({ ...size, vcpus: 100, maxVcpus: 64 }));
  });

  test('not a whole number in range: refused, naming the field', () => {
    assert.throws(() => assertSpecSizes({ ...size, maxVcpus: 2.5 }), /invalid maxVcpus 2.5/);
    assert.throws(() => assertSpecSizes({ ...size, maxVcpus: 0 }), /invalid maxVcpus/);
    assert.throws(() => assertSpecSizes({ ...size, maxMemoryMiB: Number.NaN }), /invalid maxMemoryMiB/);
    assert.throws(() => assertSpecSizes({ ...size, maxMemoryMiB: 1e12 }), /invalid maxMemoryMiB/);
  });
});
