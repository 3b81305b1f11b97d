import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createInPlace, IN_PLACE_MAX, sealText, unsealText } from './domain-file-io.js';
import { DomainFileStore, newDomain, type SimDomain } from './domain-file-store.js';

const spec = (id: string) => ({ id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });

/** A domain whose pretty JSON is longer than a page (many snapshots). */
function longDomain(d: SimDomain): SimDomain {
  const snapshots = Array.from({ length: 60 }, (_, i) => ({
    name: `snap-${i}`,
    memory: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    restores: 'stopped' as const,
  }));
  return { ...d, snapshots };
}

describe('simulated domain files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-sim-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new DomainFileStore(join(dir, 'host'));

  test('an existing domain is rewritten in place: same inode, the new state read back', async () => {
    const d = newDomain(spec('in-place'));
    await store.store(d);
    const before = statSync(store.path(d.vmId));
    await store.store({ ...d, state: 'running', bootCount: 1 });
    const after = statSync(store.path(d.vmId));
    assert.equal(after.ino, before.ino, 'no new file: the one write went into the old one');
    assert.deepEqual(await store.load(d.vmId), { ...d, state: 'running', bootCount: 1 });
  });

  test('a new domain is created in its place: no temporary file appears beside it', async () => {
    const watched = new DomainFileStore(join(dir, 'watched'));
    mkdirSync(watched.dir, { recursive: true });
    const d = newDomain(spec('created'));
    const names: string[] = [];
    let sawFile: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (sawFile = resolve));
    // inotify reports in order: a temporary file would be named before the domain's file.
    const watcher = watch(watched.dir, (_event, name) => {
      names.push(String(name));
      if (String(name) === 'created.sim.json') sawFile();
    });
    try {
      await watched.store(d);
      const deadline = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no event named the file; saw ${names.join(', ')}`)), 10_000).unref(),
      );
      await Promise.race([seen, deadline]);
    } finally {
      watcher.close();
    }
    assert.deepEqual([...new Set(names)], ['created.sim.json']);
    assert.deepEqual(await watched.load(d.vmId), d);
  });

  test('creating a file that exists already writes nothing (the caller rewrites it in place)', async () => {
    const d = newDomain(spec('exists'));
    await store.store(d);
    const before = readFileSync(store.path(d.vmId), 'utf8');
    const other = Buffer.from(sealText(JSON.stringify({ ...d, state: 'running' }, null, 2)));
    assert.equal(await createInPlace(store.path(d.vmId), other), false);
    assert.equal(readFileSync(store.path(d.vmId), 'utf8'), before);
  });

  test('an empty file (a writer killed between creating and writing it) is filled by the next store', async () => {
    const d = newDomain(spec('left-empty'));
    writeFileSync(store.path(d.vmId), '');
    assert.equal(await store.load(d.vmId), undefined);
    await store.store(d);
    assert.deepEqual(await store.load(d.vmId), d);
  });

  test('the file stays the domain JSON (plus its check), readable by any JSON tool', async () => {
    const d = { ...newDomain(spec('as-json')), bootCount: 3 };
    await store.store(d);
    const parsed = JSON.parse(readFileSync(store.path(d.vmId), 'utf8')) as SimDomain & { check: string };
    assert.equal(parsed.bootCount, 3);
    assert.match(parsed.check, /^[0-9a-f]{40}$/);
    assert.equal('check' in ((await store.load(d.vmId)) ?? {}), false, 'the check is not part of the domain');
  });

  test('a shorter text is padded, never leaving the old tail in what is read', async () => {
    const d = { ...newDomain(spec('shrinks')), detail: 'x'.repeat(300) };
    await store.store(d);
    const size = statSync(store.path(d.vmId)).size;
    const shorter: SimDomain = { ...d, detail: undefined };
    await store.store(shorter);
    assert.equal(statSync(store.path(d.vmId)).size, size, 'not truncated: padded with spaces');
    assert.deepEqual(await store.load(d.vmId), JSON.parse(JSON.stringify(shorter)));
  });

  test('two processes writing at once, the last one shorter: the last text is read, the tail ignored', () => {
    const d = newDomain(spec('raced'));
    const longer = sealText(JSON.stringify({ ...d, detail: 'y'.repeat(200) }, null, 2));
    const shorter = sealText(JSON.stringify({ ...d, state: 'running' }, null, 2));
    store.write(d);
    writeFileSync(store.path(d.vmId), shorter + longer.slice(shorter.length));
    assert.equal(store.read(d.vmId)?.state, 'running');
  });

  test('a text longer than a page goes through a new file, and a short one after it too', async () => {
    const d = newDomain(spec('long'));
    await store.store(d);
    const long = longDomain(d);
    assert.ok(JSON.stringify(long, null, 2).length > IN_PLACE_MAX);
    const ino = statSync(store.path(d.vmId)).ino;
    await store.store(long);
    assert.notEqual(statSync(store.path(d.vmId)).ino, ino, 'renamed into place');
    assert.deepEqual(await store.load(d.vmId), long);
    // The old file is longer than a page: padding it in one write is not possible, so renamed again.
    await store.store(d);
    assert.ok(statSync(store.path(d.vmId)).size <= IN_PLACE_MAX);
    assert.deepEqual(await store.load(d.vmId), d);
  });

  test('a file written before the check (plain JSON) is read, and rewritten with one', async () => {
    const d = newDomain(spec('legacy'));
    store.write(d); // makes the directory
    writeFileSync(store.path(d.vmId), JSON.stringify(d, null, 2) + '\n');
    assert.deepEqual(store.read(d.vmId), d);
    await store.store({ ...d, state: 'running' });
    assert.equal(store.read(d.vmId)?.state, 'running');
    assert.match(readFileSync(store.path(d.vmId), 'utf8'), /"check": "[0-9a-f]{40}"/);
  });

  test('an empty file (created, never written) is no domain; a torn one is an error naming it', () => {
    const empty = store.path('empty');
    writeFileSync(empty, '');
    assert.equal(store.read('empty'), undefined);
    // What a reader in another process could see mid-copy: the new text's start, the old text's end.
    const old = sealText(JSON.stringify({ ...newDomain(spec('torn')), state: 'stopped' }, null, 2));
    const now = sealText(JSON.stringify({ ...newDomain(spec('torn')), state: 'running' }, null, 2));
    assert.equal(old.length, now.length);
    const torn = now.slice(0, now.indexOf('"running"') + 5) + old.slice(now.indexOf('"running"') + 5);
    assert.doesNotThrow(() => JSON.parse(torn), 'the mix is valid JSON: only the check tells');
    assert.equal(unsealText(torn), undefined);
    writeFileSync(store.path('torn'), torn);
    assert.throws(() => store.read('torn'), /torn\.sim\.json is corrupt/);
  });
});
