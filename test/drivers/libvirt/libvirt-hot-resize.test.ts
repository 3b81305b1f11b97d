/**
 * Live resize on the real libvirtd (TCG) with a real Linux guest: `setvcpus --live`, a DIMM by
 * `attach-device --live`, `blockresize`; what the guest itself sees, that a redelivery plugs
 * nothing twice, what is refused, and that the grown VM migrates live to the peer libvirtd.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ConsoleStream, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { waitFor } from '../../support/wait.js';
import { ensureGuest, guestHasCpus, guestView, waitForLog } from '../qemu/guest-console.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  vmSpec,
  type LibvirtDaemons,
} from './libvirt-test-env.js';
import { driverError } from '../../support/driver-error.js';
import { waitForGuestPrompt } from '../../support/guest-prompt.js';

const skip = libvirtSkipReason() ?? false;

/** A shell on the guest's serial console through the driver's openConsole (as the API's console uses it). */
class Shell {
  private buffer = '';
  private closedWith: string | undefined;
  constructor(
    private readonly stream: ConsoleStream,
    private readonly logPath: string,
  ) {
    stream.onData((chunk) => (this.buffer += chunk.toString('utf8')));
    stream.onClose((reason) => (this.closedWith = reason));
  }

  private prompted = false;

  /** The shell's prompt first (see waitForGuestPrompt): a line typed while ash starts loses its first characters. */
  private async ready(): Promise<void> {
    if (this.prompted) return;
    await waitForGuestPrompt({
      output: () => this.buffer,
      pressEnter: () => this.stream.write(Buffer.from('\n')),
      closedWith: () => this.closedWith,
      logPath: this.logPath,
    });
    this.prompted = true;
  }

  async run(command: string): Promise<string> {
    await this.ready();
    const id = randomUUID().slice(0, 8);
    this.buffer = '';
    // Split quotes: the echo of the typed line never matches the markers, only the output does.
    this.stream.write(Buffer.from(`echo "VL""B-${id}"; ${command}; echo "VL""E-${id}"\n`));
    const answer = waitFor(
      () => {
        if (this.closedWith !== undefined) throw new Error(`the guest console ended: ${this.closedWith}`);
        // The pty may turn the guest's \r\n into \n\n (icrnl): any line end will do.
        const b = this.buffer.search(new RegExp(`VLB-${id}[\r\n]`));
        const e = this.buffer.indexOf(`VLE-${id}`, b + 1);
        // Boxed: an empty answer is an answer.
        return b >= 0 && e > b
          ? [
              this.buffer
                .slice(b + `VLB-${id}`.length, e)
                .replace(/\r/g, '')
                .trim(),
            ]
          : undefined;
      },
      { what: `the guest to answer "${command}"`, timeoutMs: 30_000, intervalMs: 50 },
    );
    return answer
      .then(([out]) => out ?? '')
      .catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; console: ${JSON.stringify(this.buffer.slice(-400))}`);
      });
  }

  close(): void {
    this.stream.close();
  }
}

const dimmsIn = (xml: string): number => (xml.match(/<memory model='dimm'/g) ?? []).length;

describe('libvirt driver: live resize (real libvirtd, TCG guest)', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let image: string;
  let imagesDir: string;
  const shells: Shell[] = [];

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv('vl-lvhot-');
    const guest = ensureGuest();
    imagesDir = guest.imagesDir;
    image = guest.image;
  });
  after(async () => {
    for (const s of shells) s.close();
    await env?.cleanup();
    daemons?.stop();
  });

  const shell = async (driver: LibvirtDriver, spec: VmSpec): Promise<Shell> => {
    const sh = new Shell(await driver.openConsole(spec), driver.files(spec.id).consoleLog);
    shells.push(sh);
    return sh;
  };

  test('grow vCPUs, memory and disk live; the guest sees them; it migrates to the peer and restarts cold', async () => {
    assert.ok(daemons.peerUri, 'the peer libvirtd runs');
    const a = env.driver('hot-src', daemons.uri, { images: imagesDir });
    const b = env.driver('hot-dst', daemons.peerUri, { images: imagesDir, migrationHost: '127.0.0.1' });
    assert.deepEqual(a.capabilities.hotResize, { vcpus: 'grow', memory: 'grow', diskGrow: true, memoryStepMiB: 128 });
    const spec = vmSpec({ vcpus: 1, maxVcpus: 3, memoryMiB: 128, maxMemoryMiB: 512, image });
    await a.define(spec);
    await a.start(spec);
    const xml = virshSync(daemons.uri, ['dumpxml', a.domainName(spec.id)]);
    assert.match(xml, /<vcpu placement='static' current='1'>3<\/vcpu>/);
    assert.match(xml, /<maxMemory slots='16' unit='KiB'>524288<\/maxMemory>/);
    await waitForLog(a.files(spec.id).consoleLog, 'GUEST-READY', 180_000);
    const onA = await shell(a, spec);
    const before = await guestView(onA);
    assert.equal(before.cpus, 1);
    assert.equal(before.diskSectors, 2 * 1024 * 1024);

    // 1. Everything at once, then the same call redelivered: one DIMM, two vCPUs, not more.
    const grown = { vcpus: 2, memoryMiB: 256, diskGiB: 2 };
    await a.resizeLive(spec, grown);
    await a.resizeLive(spec, grown);
    assert.equal(dimmsIn(virshSync(daemons.uri, ['dumpxml', a.domainName(spec.id)])), 1);
    await guestHasCpus(onA, 2);
    const seen = await guestView(onA);
    assert.equal(seen.cpus, 2, 'the guest runs on the added vCPU');
    assert.equal(seen.memMiB - before.memMiB, 128, `MemTotal grew by one DIMM: ${JSON.stringify(seen)}`);
    assert.equal(seen.diskSectors, 4 * 1024 * 1024, 'the guest sees the 2 GiB disk');
    const spec2 = { ...spec, ...grown };

    // 2. Refused, and the guest unchanged.
    await assert.rejects(a.resizeLive(spec2, { ...grown, vcpus: 1 }), driverError('invalid', /removing vCPUs/));
    await assert.rejects(a.resizeLive(spec2, { ...grown, vcpus: 4 }), driverError('invalid', /room for 3 vCPUs/));
    await assert.rejects(
      a.resizeLive(spec2, { ...grown, memoryMiB: 640 }),
      driverError('invalid', /room for 512 MiB.*stop the VM/),
    );
    await assert.rejects(a.resizeLive(spec2, { ...grown, memoryMiB: 300 }), driverError('invalid', /steps of 128/));
    await assert.rejects(a.resizeLive(spec2, { ...grown, diskGiB: 1 }), driverError('invalid', /only grow/));
    await assert.rejects(
      a.resizeLive(
        spec2,
        { vcpus: 3, memoryMiB: 384, diskGiB: 3 },
        { signal: AbortSignal.abort(new Error('stop it')) },
      ),
      driverError('failed', /aborted/),
    );
    assert.deepEqual(await guestView(onA), seen);

    // 3. Live migration (storage copied): libvirt sends the live definition, DIMM included.
    const endpoint = await b.prepareIncoming(spec2, { live: true });
    await a.migrate(spec2, endpoint, { live: true });
    await b.finishIncoming(spec2, { live: true });
    onA.close();
    assert.equal(dimmsIn(virshSync(daemons.peerUri, ['dumpxml', b.domainName(spec.id)])), 1);
    const onB = await shell(b, spec2);
    assert.deepEqual(await guestView(onB), seen, 'vCPUs, memory and disk all arrived');

    // 4. And it grows further there.
    await b.resizeLive(spec2, { vcpus: 3, memoryMiB: 384, diskGiB: 2 });
    await guestHasCpus(onB, 3);
    const last = await guestView(onB);
    assert.equal(last.cpus, 3);
    assert.equal(last.memMiB - before.memMiB, 256);

    // 5. Stopped: nothing live to resize; a start applies the spec cold, DIMMs folded into boot memory.
    const spec3 = { ...spec2, vcpus: 3, memoryMiB: 384 };
    await b.stop(spec3, { force: true });
    await assert.rejects(b.resizeLive(spec3, { vcpus: 3, memoryMiB: 384, diskGiB: 2 }), driverError('conflict'));
    await b.start(spec3);
    const cold = virshSync(daemons.peerUri, ['dumpxml', b.domainName(spec.id)]);
    assert.equal(dimmsIn(cold), 0, cold);
    assert.match(cold, /<vcpu placement='static'>3<\/vcpu>/);
    assert.match(cold, /<cell id='0' cpus='0-2' memory='393216' unit='KiB'\/>/);
    await b.destroy(spec3);
  });
});
