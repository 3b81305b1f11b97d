/**
 * The `load` scenario's leak check: the server's caches counted through its inspector
 * (a real server process), and the verdict that tells a heap growing while those
 * caches fill from one growing with them full.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheCensus } from '../../chaos/support/cache-census.js';
import { inspectorUrl, withInspector } from '../../chaos/support/inspector-heap.js';
import { cacheAwareHeapVerdict, liveHeapVerdict, type CacheCount } from '../../chaos/support/load-figures.js';
import { startServerProcess } from '../support/fuzz-server.js';

const admin = 'admin-heap-token-0000-0123456789';

describe('chaos load: live heap verdict', { timeout: 120000 }, () => {
  test('the census counts the server caches: creating VMs adds aggregates and read-your-writes entries', async () => {
    const srv = await startServerProcess({ AUTH_TOKENS: `admin:${admin}`, LOG_LEVEL: 'warn' }, [
      '--inspect=127.0.0.1:0',
    ]);
    try {
      const url = inspectorUrl(srv.output());
      assert.ok(url, 'the server printed its inspector URL');
      const count = async (name: string) => {
        const caches = await withInspector(url, cacheCensus);
        const c = caches.find((x) => x.name === name || x.name.startsWith(`${name} (×`));
        assert.ok(c, `${name} in ${JSON.stringify(caches)}`);
        return c;
      };
      const before = await count('aggregates');
      assert.equal(before.limit, 20000);
      const rywBefore = await count('read-your-writes');
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${srv.base}/v1/vms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `heap-${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
        });
        assert.equal(res.status, 202, await res.text());
      }
      assert.ok((await count('aggregates')).entries >= before.entries + 3);
      assert.ok((await count('read-your-writes')).entries >= rywBefore.entries + 3);
    } finally {
      await srv.close();
    }
  });

  const heap: Array<[number, number]> = [
    [20, 57.0],
    [40, 63.5],
    [58, 68.1],
  ];
  const caches = (aggregates: number, records: number): CacheCount[] => [
    { name: 'aggregates', entries: aggregates, limit: 20000 },
    { name: 'projection records (×5)', entries: records, limit: 100000 },
  ];

  test('growth within a few KiB per entry the caches gained: growing while caches fill, no leak', () => {
    const v = cacheAwareHeapVerdict(liveHeapVerdict(heap), heap, caches(4000, 10000), caches(8000, 20000));
    assert.equal(v.leak, false);
    assert.match(v.line, /growing while caches fill/);
    assert.match(v.line, /caches 28000 of 120000 entries, \+14000/);
  });

  test('growth with the caches full (no entry gained): a leak', () => {
    const full = caches(20000, 100000);
    const v = cacheAwareHeapVerdict(liveHeapVerdict(heap), heap, full, full);
    assert.equal(v.leak, true);
    assert.match(v.line, /GROWING with caches full or idle/);
  });

  test('growth far beyond what the entries gained can hold: a leak although the caches fill', () => {
    const v = cacheAwareHeapVerdict(liveHeapVerdict(heap), heap, caches(4000, 10000), caches(4100, 10100));
    assert.equal(v.leak, true);
    assert.match(v.line, /GROWING beyond what the caches filling explains/);
  });

  test('a flat heap is flat whatever the caches do', () => {
    const flat: Array<[number, number]> = [
      [20, 57.0],
      [58, 58.0],
    ];
    const v = cacheAwareHeapVerdict(liveHeapVerdict(flat), flat, caches(0, 0), caches(20000, 100000));
    assert.equal(v.leak, false);
    assert.equal(v.verdict, 'flat');
  });
});
