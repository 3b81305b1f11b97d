import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { waitForGuestPrompt } from '../../support/guest-prompt.js';
import { waitFor } from '../../support/wait.js';
import { repoRoot, sleep } from './qemu-test-env.js';

/** Boot files of the tiny guest made by scripts/build-guest.sh, built once and cached. */
export interface GuestImage {
  dir: string;
  /** The VmSpec.image value that boots it. */
  image: string;
  /** The image catalog dir it lies in: hosts that boot it need `images=<this>` in their URI. */
  imagesDir: string;
}

/** Where the guest is built: $VL_GUEST_DIR or guest/build/ in the repo. */
export function guestDir(): string {
  return process.env.VL_GUEST_DIR ?? join(repoRoot(), 'guest', 'build');
}

/** The test guest as the image catalog takes a kernel image: a tar.gz of vmlinuz, initrd.gz and cmdline. */
export function guestBundle(): Buffer {
  const guest = ensureGuest();
  return execFileSync('tar', ['-C', guest.dir, '-cz', 'vmlinuz', 'initrd.gz', 'cmdline'], {
    maxBuffer: 512 * 1024 * 1024,
  });
}

/** Builds (or reuses) the guest under guestDir(). */
export function ensureGuest(): GuestImage {
  const root = repoRoot();
  const dir = guestDir();
  execFileSync('bash', [join(root, 'scripts', 'build-guest.sh'), dir], { stdio: 'pipe', timeout: 300_000 });
  return { dir, image: `kernel:${dir}`, imagesDir: dirname(dir) };
}

/** Polls a serial log file until `text` shows up (the log keeps output sent while nobody was connected). */
export async function waitForLog(logPath: string, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let content = '';
    try {
      content = readFileSync(logPath, 'utf8');
    } catch {
      // not created yet
    }
    if (content.includes(text)) return;
    if (Date.now() > deadline) {
      throw new Error(`"${text}" not in ${logPath} after ${timeoutMs} ms; tail: ${content.slice(-300)}`);
    }
    await sleep(100);
  }
}

/** A shell on the guest's serial console (a QEMU chardev socket). */
export class GuestConsole {
  private buffer = '';
  private prompted = false;
  private closedWith: string | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.buffer += chunk));
    socket.on('error', (err) => (this.closedWith ??= `console socket error: ${err.message}`));
    socket.on('close', () => (this.closedWith ??= 'the console socket closed'));
  }

  static connect(path: string): Promise<GuestConsole> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => resolve(new GuestConsole(socket)));
      socket.once('error', reject);
    });
  }

  /**
   * Runs a shell command and returns its output. The markers are printed with split quotes
   * ("VL""B-…") so the echo of the typed line never matches them; only the real output does.
   */
  async run(command: string, timeoutMs = 15_000): Promise<string> {
    if (!this.prompted) {
      await waitForGuestPrompt({
        output: () => this.buffer,
        pressEnter: () => this.socket.write('\n'),
        closedWith: () => this.closedWith,
      });
      this.prompted = true;
    }
    const id = randomUUID().slice(0, 8);
    const begin = `VLB-${id}`;
    const end = `VLE-${id}`;
    this.buffer = '';
    this.socket.write(`echo "VL""B-${id}"; ${command}; echo "VL""E-${id}"\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closedWith !== undefined)
        throw new Error(`guest console ended before answering "${command}": ${this.closedWith}`);
      const b = this.buffer.indexOf(`${begin}\r\n`);
      const e = this.buffer.indexOf(end, b + 1);
      if (b >= 0 && e > b)
        return this.buffer
          .slice(b + begin.length, e)
          .replace(/\r/g, '')
          .trim();
      if (Date.now() > deadline) {
        throw new Error(`guest did not answer "${command}" within ${timeoutMs} ms; got: ${this.buffer.slice(-300)}`);
      }
      await sleep(50);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Shell text that onlines whatever was hot-plugged: the busybox guest has no udev to do it. */
export const ONLINE_HOTPLUGGED =
  'for c in /sys/devices/system/cpu/cpu[0-9]*/online; do [ "$(cat $c)" = 0 ] && echo 1 > $c; done; ' +
  'for m in /sys/devices/system/memory/memory*/state; do [ "$(cat $m)" = offline ] && echo online > $m; done; ';

/** A shell in the guest: the serial console of a qemu or a libvirt test VM. */
export interface GuestShell {
  run(command: string): Promise<string>;
}

/** What the guest sees: online CPUs and MemTotal (MiB) after onlining what was plugged, its disk in 512-byte sectors. */
export async function guestView(sh: GuestShell): Promise<{ cpus: number; memMiB: number; diskSectors: number }> {
  await sh.run(`${ONLINE_HOTPLUGGED}true`);
  const cpus = Number(await sh.run('nproc'));
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(await sh.run('grep MemTotal /proc/meminfo'))?.[1]);
  const diskSectors = Number(await sh.run('cat /sys/block/vda/size'));
  return { cpus, memMiB: Math.round(memKiB / 1024), diskSectors };
}

/**
 * Waits until the guest's MemTotal is `memMiB` and answers its view: a DIMM's ACPI event is
 * handled asynchronously too, and its memory blocks can be onlined only once they appeared.
 */
export async function guestHasMemory(
  sh: GuestShell,
  memMiB: number,
): Promise<{ cpus: number; memMiB: number; diskSectors: number }> {
  return waitFor(
    async () => {
      const view = await guestView(sh);
      return view.memMiB === memMiB && view;
    },
    {
      what: `the guest to see ${memMiB} MiB of memory`,
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
}

/** Waits until the guest has noticed `cpus` present CPUs (the ACPI hotplug event is handled asynchronously). */
export async function guestHasCpus(sh: GuestShell, cpus: number): Promise<void> {
  await waitFor(async () => Number(await sh.run('ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l')) === cpus, {
    what: `the guest to see ${cpus} CPUs`,
    timeoutMs: 30_000,
    intervalMs: 200,
  });
}
