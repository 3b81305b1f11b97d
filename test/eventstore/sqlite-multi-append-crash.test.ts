/**
 * appendMany on SQLite across a crash: a process appending sets of two streams (a host's
 * reservation and a VM's placement, say) is killed with SIGKILL while sets are in flight.
 * Reopened, the file holds every set it was told was stored, and of every other set either
 * all of it or none: never one stream's part without the other's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { verifyChain } from '../../src/eventstore/hash-chain.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir } from '../support/env.js';
import { waitFor } from '../support/wait.js';

describe('sqlite appendMany across a crash', () => {
  test('kill -9 with sets in flight: every acknowledged set is stored, no set is half stored', async () => {
    const dir = tempDir('vl-many-crash-');
    try {
      const file = join(dir.dir, 'events.sqlite3');
      const module = new URL('../../src/eventstore/sqlite/sqlite.event-store.js', import.meta.url).href;
      // Eight sets in flight at a time, so the writer's groups hold several sets and the kill can land
      // anywhere: between sets, inside a group's transaction, during its fsync.
      const script = `
        import { randomUUID } from 'node:crypto';
        const { SqliteEventStore } = await import(${JSON.stringify(module)});
        const s = new SqliteEventStore({ file: ${JSON.stringify(file)} });
        await s.init();
        const ev = (type) => ({ id: randomUUID(), type, data: {}, metadata: { principal: 'crash-test', correlationId: 'c', causationId: 'c', at: new Date().toISOString(), schema: 1 } });
        let next = 0;
        const lane = async () => {
          for (;;) {
            const i = next++;
            await s.appendMany([
              { streamId: 'host-' + i, events: [ev('Reserved')], expected: 'no_stream' },
              { streamId: 'vm-' + i, events: [ev('Placed'), ev('Noted')], expected: 'no_stream' },
            ]);
            process.stdout.write('ok ' + i + '\\n');
          }
        };
        await Promise.all(Array.from({ length: 8 }, lane));`;
      const scriptFile = join(dir.dir, 'append-sets.mjs');
      writeFileSync(scriptFile, script);
      const child = spawn(process.execPath, [scriptFile], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      const acknowledged = (): number[] => [...out.matchAll(/^ok (\d+)$/gm)].map((m) => Number(m[1]));
      await waitFor(() => acknowledged().length >= 300 || child.exitCode !== null, {
        what: 'the child to store 300 sets',
        timeoutMs: 60_000,
      });
      assert.equal(child.exitCode, null, `the child stopped on its own:\n${err}`);
      child.kill('SIGKILL');
      await exited;
      const acked = acknowledged();

      const store = new SqliteEventStore({ file });
      await store.init();
      try {
        const events = await store.readAll();
        const perStream = new Map<string, number>();
        for (const e of events) perStream.set(e.streamId, (perStream.get(e.streamId) ?? 0) + 1);
        // Every set the log has any part of, and every set the child was told is stored.
        const seen = new Set<number>(acked);
        for (const s of perStream.keys()) seen.add(Number(s.replace(/^(host|vm)-/, '')));
        let whole = 0;
        for (const i of seen) {
          const host = perStream.get(`host-${i}`) ?? 0;
          const vm = perStream.get(`vm-${i}`) ?? 0;
          assert.ok(
            (host === 0 && vm === 0) || (host === 1 && vm === 2),
            `set ${i} is half stored: host ${host} of 1 event, vm ${vm} of 2`,
          );
          if (host === 1) whole++;
        }
        for (const i of acked) assert.equal(perStream.get(`host-${i}`), 1, `acknowledged set ${i} is missing`);
        assert.ok(whole >= acked.length);
        // Each set's two streams are next to each other in the log, host first.
        for (const [k, e] of events.entries()) {
          if (!e.streamId.startsWith('host-')) continue;
          assert.equal(events[k + 1]?.streamId, `vm-${e.streamId.slice(5)}`);
        }
        for (const s of perStream.keys()) assert.equal(verifyChain(await store.readStream(s)), null);
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
