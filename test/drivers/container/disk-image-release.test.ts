/**
 * A cold disk grow waits until no one holds the filesystem (real mkfs.ext4, loop mounts, a mount
 * namespace made with unshare). A stopped container's mount namespace keeps its copy of the root
 * disk's mount until the kernel frees it, after the host's own umount already succeeded; e2fsck
 * and resize2fs on the image under that live filesystem were undone and the filesystem corrupted
 * when it was put away (CI: a cold resize's start flaked; by hand: block count back to 1 GiB,
 * e2fsck -n "illegal blocks"). Here the holder is a process in such a copied namespace.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import {
  createDiskImage,
  growDiskImageOffline,
  isMountPoint,
  loopDevicesBacking,
  mountDiskImage,
  unmountDiskImage,
} from '../../../src/drivers/container/disk-image.js';
import { tempDir } from '../../support/env.js';
import { waitFor } from '../../support/wait.js';
import { containerSkipReason } from './container-test-env.js';

const skip = containerSkipReason() ?? (existsSync('/dev/loop-control') ? undefined : 'no loop devices');
const GIB = 1024 ** 3;

/**
 * A process in a private copy of this mount namespace whose working directory is in the disk's
 * filesystem, as a container's root is: the host's umount succeeds and the rmdir of the mount point
 * detaches the copy, but the filesystem stays live on its loop device until this process ends.
 */
async function holdFilesystem(dir: string): Promise<ChildProcess> {
  const child = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'cd "$1" && echo ready; read x', 'sh', dir],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(() => out.includes('ready') || child.exitCode !== null, { what: 'the holder in its namespace' });
  assert.equal(child.exitCode, null, 'the holder runs');
  return child;
}

const ended = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));

/** The filesystem's size in bytes, as its superblock says. */
function fsBytes(image: string): number {
  const out = execFileSync('dumpe2fs', ['-h', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const count = Number(/^Block count:\s+(\d+)/m.exec(out)?.[1]);
  const size = Number(/^Block size:\s+(\d+)/m.exec(out)?.[1]);
  return count * size;
}

describe('container disk: a cold grow (real ext4 images, loop mounts, e2fsck, resize2fs)', { skip }, () => {
  const tmp = tempDir('vl-disk-rel-');
  const image = join(tmp.dir, 'disk.img');
  const dir = join(tmp.dir, 'mnt', 'host', 'vm');
  const holders: ChildProcess[] = [];

  after(async () => {
    for (const h of holders) h.kill('SIGKILL');
    await Promise.all(holders.map(ended));
    await unmountDiskImage(dir);
    tmp.cleanup();
  });

  test('held: it gives up untouched; released while it waits: it grows, and the filesystem is clean', async () => {
    mkdirSync(join(tmp.dir, 'mnt'), { recursive: true });
    await createDiskImage(image, 1);
    await mountDiskImage(image, dir);
    writeFileSync(join(dir, 'kept'), 'data written before the stop');
    const holder = await holdFilesystem(dir);
    holders.push(holder);

    await assert.rejects(growDiskImageOffline(image, dir, 2, 200), (err: unknown) => {
      assert.ok(err instanceof DriverError);
      assert.equal(err.code, 'timeout', 'retried: the hold is expected to go');
      assert.match(err.message, /still in use on \/dev\/loop\d+/);
      return true;
    });
    assert.equal(isMountPoint(dir), false, 'unmounted here');
    assert.equal(loopDevicesBacking(image).length, 1, 'still live on its loop device');
    assert.equal(statSync(image).size, GIB, 'the file not grown');

    const grown = growDiskImageOffline(image, dir, 2);
    holder.stdin?.end(); // the holder's `read` returns: it exits and its namespace goes
    await grown;
    assert.deepEqual(loopDevicesBacking(image), []);
    execFileSync('e2fsck', ['-f', '-n', image], { stdio: 'ignore' }); // throws on any error found
    assert.equal(fsBytes(image), 2 * GIB);
    await mountDiskImage(image, dir);
    assert.equal(readFileSync(join(dir, 'kept'), 'utf8'), 'data written before the stop');
  });

  test('an image its host crashed under (a journal to replay, an orphan inode) grows: e2fsck status 1 is no failure', async () => {
    const crashed = join(tmp.dir, 'crashed.img');
    const live = join(tmp.dir, 'mnt', 'host', 'live');
    await createDiskImage(image.replace('disk.img', 'live.img'), 1);
    await mountDiskImage(image.replace('disk.img', 'live.img'), live);
    // An open file unlinked is an orphan until closed; syncfs writes it, with the journal, to the image.
    const opener = spawn('sh', ['-c', 'exec 3>"$1/open"; rm "$1/open"; sync -f "$1"; echo ready; read x', 'sh', live], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    holders.push(opener);
    let out = '';
    opener.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('ready') || opener.exitCode !== null, { what: 'the orphan written' });
    // The copy of a mounted filesystem is what a power loss leaves on the disk.
    execFileSync('cp', ['--sparse=always', image.replace('disk.img', 'live.img'), crashed]);
    opener.stdin?.end();
    await ended(opener);
    await unmountDiskImage(live);
    const fsck = spawnSync('e2fsck', ['-f', '-n', crashed], { stdio: 'ignore' });
    assert.notEqual(fsck.status, 0, 'the copy needs a check (else this test proves nothing)');

    await growDiskImageOffline(crashed, join(tmp.dir, 'mnt', 'host', 'crashed'), 2);
    execFileSync('e2fsck', ['-f', '-n', crashed], { stdio: 'ignore' });
    assert.equal(fsBytes(crashed), 2 * GIB);
  });
});
