import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileTail, openFifoLogConsole } from './console-streams.js';

describe('console streams', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-console-streams-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('fileTail reads at most the last bytes, and nothing for a missing file', async () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'one\ntwo\nthree\n');
    assert.equal((await fileTail(f, 6)).toString(), 'three\n');
    assert.equal((await fileTail(f, 1000)).toString(), 'one\ntwo\nthree\n');
    assert.equal((await fileTail(join(dir, 'none'), 10)).length, 0);
  });

  test('a FIFO in, a log out: typed bytes reach the reader, only new log bytes come back', async () => {
    const fifo = join(dir, 'in');
    const log = join(dir, 'console.log');
    execFileSync('mkfifo', [fifo]);
    writeFileSync(log, 'before attach\n');
    // The container's side: its stdin, opened read-write as the launch does.
    const reader = openSync(fifo, constants.O_RDWR);
    const c = openFifoLogConsole(fifo, log);
    try {
      const got = new Promise<string>((resolve) => c.onData((chunk) => resolve(chunk.toString())));
      appendFileSync(log, 'after attach\n');
      assert.equal(await got, 'after attach\n');
      c.write(Buffer.from('echo hi\n'));
      const buf = Buffer.alloc(64);
      const n = readSync(reader, buf, 0, buf.length, null);
      assert.equal(buf.subarray(0, n).toString(), 'echo hi\n');
      const closed = new Promise<string>((resolve) => c.onClose(resolve));
      c.close();
      assert.equal(await closed, 'detached');
    } finally {
      closeSync(reader);
    }
  });
});
