/**
 * The `load` scenario's RSS check on a real server process: its own cache census (a heap
 * walk whose malloc'd memory glibc keeps) must not read as growth, while a real native
 * leak — memory outside every V8 heap — must still read as GROWING. And the split of RSS
 * by mapping kind that the scenario prints beside it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspectorUrl, withInspector } from '../../chaos/support/inspector-heap.js';
import { liveHeapVerdict } from '../../chaos/support/load-figures.js';
import { MemorySampler } from '../../chaos/support/memory-sampler.js';
import { parseSmaps, residentByKind } from '../../chaos/support/smaps.js';
import { startServerProcess, type ServerProcess } from '../support/fuzz-server.js';

const admin = 'admin-rss-token-0000-0123456789';

/** The scenario's three samples (census before the first RSS reading, after the last), `between` run between them. */
async function threeSamples(srv: ServerProcess, between: (url: string) => Promise<void>): Promise<MemorySampler> {
  const url = inspectorUrl(srv.output());
  assert.ok(url, 'the server printed its inspector URL');
  const mem = new MemorySampler(url, srv.child.pid!, () => srv.rssMiB());
  await mem.sample(1, 'before');
  await between(url);
  await mem.sample(2, 'none');
  await mem.sample(3, 'after');
  assert.deepEqual(mem.problems, []);
  return mem;
}

describe('chaos load: RSS after a full GC', { timeout: 120000 }, () => {
  test('an idle server: the census is in every RSS sample, none grows', async () => {
    const srv = await startServerProcess({ AUTH_TOKENS: `admin:${admin}`, LOG_LEVEL: 'warn' }, [
      '--inspect=127.0.0.1:0',
    ]);
    try {
      const mem = await threeSamples(srv, async () => undefined);
      const [first, ...later] = mem.rssAfterGc.map(([, m]) => m);
      // A census between two readings added 8–17 MiB here (glibc keeps the heap walk's memory): idle, the
      // readings otherwise move by well under 1 MiB.
      for (const m of later) assert.ok(m - first! < 6, `RSS after GC ${JSON.stringify(mem.rssAfterGc)}`);
      assert.equal(mem.caches.length, 2, 'caches counted at the first and the last sample');
      const ends = mem.cachesAtEnds();
      assert.ok(ends.first?.some((c) => c.name === 'aggregates'));
      assert.ok(ends.last?.some((c) => c.name === 'aggregates'));
      assert.ok((mem.memory[0]?.[1]['sqlite-writer heap'] ?? 0) > 0, JSON.stringify(mem.memory[0]));
    } finally {
      await srv.close();
    }
  });

  test('a native leak between the samples (80 MiB of Buffers): RSS GROWING, the live heap flat', async () => {
    const srv = await startServerProcess({ AUTH_TOKENS: `admin:${admin}`, LOG_LEVEL: 'warn' }, [
      '--inspect=127.0.0.1:0',
    ]);
    try {
      const mem = await threeSamples(srv, (url) =>
        withInspector(url, async (call) => {
          // Filled, so that every page is resident; held from a global, so that no GC frees them. 80 MiB: malloc
          // may first reuse what the census left free in its arena (up to ~20 MiB), then RSS grows past the 25 MiB slack.
          await call('Runtime.evaluate', {
            expression: 'globalThis.leaked = Array.from({ length: 80 }, () => Buffer.alloc(1 << 20, 1)); 0',
          });
        }),
      );
      assert.equal(liveHeapVerdict(mem.liveHeap).flat, true, JSON.stringify(mem.liveHeap));
      const rss = liveHeapVerdict(mem.rssAfterGc, 'RSS right after a forced full GC', 25);
      assert.equal(rss.flat, false, `${rss.line} ${JSON.stringify(mem.memory)}`);
    } finally {
      await srv.close();
    }
  });
});

describe('RSS by mapping kind', () => {
  const MiB = 1024 * 1024;
  const map = (start: number, end: number, name: string, rssKiB: number) =>
    `${start.toString(16)}-${end.toString(16)} rw-p 00000000 00:00 0 ${name}\nSize: ${(end - start) / 1024} kB\nRss: ${rssKiB} kB\n`;
  const arena = 0x7f0000000000; // a multiple of 64 MiB

  test('brk heap, a thread arena with its unused reserve, V8 pages, files', () => {
    const text =
      map(0x5000000, 0x5000000 + 40 * MiB, '[heap]', 20 * 1024) +
      map(arena, arena + 8 * MiB, '', 6 * 1024) +
      map(arena + 8 * MiB, arena + 64 * MiB, '', 0) +
      map(arena + 64 * MiB + 256 * 1024, arena + 64 * MiB + 512 * 1024, '', 256) +
      map(0x7f1000000000 + 4096, 0x7f1000000000 + 8192 + 4096, '/usr/bin/node', 8);
    assert.deepEqual(residentByKind(parseSmaps(text)), {
      brkHeap: 20,
      threadArenas: 6,
      arenas: 1,
      otherAnon: 0.3,
      file: 0,
    });
  });
});
