import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small tmpfs of the scenario's own (needs root): DATA_DIR on it can be filled to the last byte. */
export class SmallDisk {
  private constructor(readonly dir: string) {}

  static mount(sizeMiB: number): SmallDisk {
    const dir = mkdtempSync(join(tmpdir(), 'vl-chaos-disk-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmdirSync(dir);
      throw new Error(`cannot mount a tmpfs (root needed): ${r.stderr.trim()}`);
    }
    return new SmallDisk(dir);
  }

  static canMount(): boolean {
    try {
      SmallDisk.mount(1).unmount();
      return true;
    } catch {
      return false;
    }
  }

  get filler(): string {
    return join(this.dir, 'filler.bin');
  }

  /** Writes until ENOSPC: the disk is then full to the last block. Returns the bytes written. */
  fill(): number {
    const fd = openSync(this.filler, 'a');
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    try {
      for (;;) written += writeSync(fd, chunk);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    // The last partial block too.
    const fd2 = openSync(this.filler, 'a');
    try {
      for (;;) written += writeSync(fd2, Buffer.alloc(512));
    } catch {
      // full
    } finally {
      closeSync(fd2);
    }
    return written;
  }

  free(): void {
    rmSync(this.filler, { force: true });
  }

  unmount(): void {
    spawnSync('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
