import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kvmUsable } from '../../../src/drivers/kit/kvm-probe.js';
import { DriverError, type MigrationEndpoint } from '../../../src/drivers/hypervisor-driver.port.js';
import { driverCapabilities } from '../../../src/drivers/driver-registry.js';
import { DomainEventStream, parseEventLine } from '../../../src/drivers/libvirt/domain-events.js';
import { parseDomainList, parseDomstate, parseDomstats } from '../../../src/drivers/libvirt/domain-state.js';
import { domainXml, uuidFor } from '../../../src/drivers/libvirt/domain-xml.js';
import { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { parseSnapshotList } from '../../../src/drivers/libvirt/libvirt-snapshots.js';
import { liveMigrationArgs, rewriteVmDir } from '../../../src/drivers/libvirt/libvirt-migration.js';
import { parseJobStats } from '../../../src/drivers/libvirt/migration-progress.js';
import { parseLibvirtUri } from '../../../src/drivers/libvirt/libvirt-uri.js';
import { virsh } from '../../../src/drivers/libvirt/virsh.js';
import { waitFor } from '../../support/wait.js';
import { GOLDEN } from './golden-inputs.js';
import { hasVirsh, repoRoot, vmSpec } from './libvirt-test-env.js';

const skip = hasVirsh() ? false : 'virsh not installed (libvirt-clients)';
const goldenDir = join(repoRoot(), 'test', 'drivers', 'libvirt', 'golden');

/**
 * A test:/// node file with one of our domains (running) and one foreign domain. libvirt's test
 * driver reads it afresh in every virsh process, so each call sees this state: verbs are
 * exercised against real libvirt code, without a daemon.
 */
function testNodeXml(ourDomain: string): string {
  const dom = (name: string, uuid: string) => `
  <domain type='test'>
    <name>${name}</name>
    <uuid>${uuid}</uuid>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
  </domain>`;
  return `<node>${dom(ourDomain, '11111111-2222-3333-4444-555555555555')}${dom('foreign-db', '11111111-2222-3333-4444-666666666666')}
</node>
`;
}

describe('libvirt driver: virsh wrapper, parsers and domain XML (test:/// driver, no daemon)', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vl-lvw-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('virsh returns machine-readable output of a real libvirt connection', async () => {
    const out = await virsh('test:///default', ['list', '--all', '--name'], { timeoutMs: 20_000 });
    assert.deepEqual(out.split('\n').filter(Boolean), ['test']);
  });

  test("an unknown domain is a not_found DriverError carrying virsh's own message", async () => {
    await assert.rejects(
      virsh('test:///default', ['domstate', 'no-such-dom'], { timeoutMs: 20_000 }),
      (err: unknown) =>
        err instanceof DriverError &&
        err.code === 'not_found' &&
        /failed to get domain 'no-such-dom'/.test(err.message),
    );
  });

  test("a refused operation is a failed DriverError with libvirt's reason", async () => {
    // destroy twice in one virsh process: the second is refused by libvirt itself.
    await assert.rejects(
      virsh('test:///default', ['destroy test; destroy test'], { timeoutMs: 20_000 }),
      (err: unknown) =>
        err instanceof DriverError && err.code === 'failed' && /domain is not running/.test(err.message),
    );
  });

  test('a virsh that hangs is killed at the deadline and reported as timeout (fake virsh: a real hang cannot be provoked on demand)', async () => {
    const fake = join(dir, 'hanging-virsh');
    writeFileSync(fake, '#!/bin/sh\nexec sleep 60\n');
    chmodSync(fake, 0o755);
    const t0 = Date.now();
    await assert.rejects(
      virsh('qemu:///system', ['list'], { timeoutMs: 300, binary: fake }),
      (err: unknown) =>
        err instanceof DriverError && err.code === 'timeout' && /no answer within 300 ms/.test(err.message),
    );
    assert.ok(Date.now() - t0 < 5_000, 'the deadline, not the child, ended the call');
  });

  test('the event stream survives virsh exiting (fake virsh that exits: restarting the shared libvirtd would disturb other tests)', async () => {
    const fake = join(dir, 'exiting-virsh');
    writeFileSync(
      fake,
      "#!/bin/sh\necho \"event 'lifecycle' for domain 'vl-a': Stopped Destroyed\"\necho 'error: Cannot recv data: Connection reset by peer' >&2\nexit 1\n",
    );
    chmodSync(fake, 0o755);
    const events: string[] = [];
    const errors: string[] = [];
    const stream = new DomainEventStream('qemu:///system', (e) => events.push(`${e.domain} ${e.what}`), {
      binary: fake,
      minBackoffMs: 50,
      maxBackoffMs: 100,
      onError: (m) => errors.push(m),
    });
    try {
      await waitFor(() => events.length >= 2, { what: 'virsh to be started again after it exited', timeoutMs: 10_000 });
      assert.equal(events[0], 'vl-a Stopped Destroyed');
      assert.match(errors[0] ?? '', /exited \(1\): error: Cannot recv data: Connection reset by peer; again in 50 ms/);
    } finally {
      stream.stop();
    }
    const seen = events.length;
    // Nothing runs after stop(): measured against a control stream with the same fake and backoff,
    // not against a time. Once the control has restarted virsh three times, a retry the stopped
    // stream had left scheduled (its backoff is no longer than the control's) would have run too.
    let control = 0;
    const controlStream = new DomainEventStream('qemu:///system', () => control++, {
      binary: fake,
      minBackoffMs: 50,
      maxBackoffMs: 100,
      onError: () => undefined,
    });
    try {
      await waitFor(() => control >= 4, { what: 'the control stream to restart virsh three times', timeoutMs: 20_000 });
    } finally {
      controlStream.stop();
    }
    assert.equal(events.length, seen, 'nothing runs after stop()');
  });

  test('a missing virsh binary is a clear failure', async () => {
    await assert.rejects(
      virsh('test:///default', ['list'], { timeoutMs: 5_000, binary: join(dir, 'nope') }),
      /is not installed/,
    );
  });

  test('an aborted call stops virsh', async () => {
    const fake = join(dir, 'slow-virsh');
    writeFileSync(fake, '#!/bin/sh\nexec sleep 60\n');
    chmodSync(fake, 0o755);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(
      virsh('qemu:///system', ['list'], { timeoutMs: 30_000, binary: fake, signal: ac.signal }),
      /aborted/,
    );
  });

  test('driver verbs against a real libvirt test:/// connection', async () => {
    const spec = vmSpec();
    const node = join(dir, 'node.xml');
    writeFileSync(node, testNodeXml(`vl-${spec.id}`));
    const storage = join(dir, 'storage');
    mkdirSync(join(storage, spec.id), { recursive: true });
    const d = new LibvirtDriver({ id: 'h1', driver: 'libvirt', uri: `test://${node}`, storageDir: storage });
    assert.equal((await d.status(spec)).state, 'running');
    assert.equal((await d.status(vmSpec())).state, 'absent');
    // Idempotent verbs: start of a running domain, resume of a running one, snapshot list of none.
    await d.start(spec);
    await d.resume(spec);
    await d.pause(spec); // a real virsh suspend on the test driver
    await d.stop(spec, { force: true }); // a real virsh destroy
    assert.deepEqual(await d.listSnapshots(spec), []);
    const domains = await d.listDomains();
    assert.deepEqual(
      domains.map((x) => [x.vmId, x.managed, x.state]).sort(),
      [
        ['foreign-db', false, 'running'],
        [spec.id, true, 'running'],
      ].sort(),
    );
    // Verbs on a VM that is not defined: not_found, except the idempotent ones.
    const ghost = vmSpec();
    await assert.rejects(d.start(ghost), (e: unknown) => e instanceof DriverError && e.code === 'not_found');
    await assert.rejects(d.pause(ghost), (e: unknown) => e instanceof DriverError && e.code === 'not_found');
    await assert.rejects(
      d.stop(ghost, { force: false }),
      (e: unknown) => e instanceof DriverError && e.code === 'not_found',
    );
    await assert.rejects(
      d.deleteSnapshot(ghost, 'x'),
      (e: unknown) => e instanceof DriverError && e.code === 'not_found',
    );
    await assert.rejects(
      d.finishIncoming(ghost, { live: false }),
      (e: unknown) => e instanceof DriverError && e.code === 'not_found',
    );
    await d.destroy(ghost); // destroy of an absent VM succeeds
    await d.deleteSnapshot(spec, 'nope'); // a snapshot already gone: the same end state
  });

  test('a host without peerUri refuses to be a migration target; a forged endpoint is refused', async () => {
    // qemu:///system is never contacted here: both refusals come before any virsh call.
    const d = new LibvirtDriver({ id: 'h1', driver: 'libvirt', uri: 'qemu:///system', storageDir: join(dir, 's2') });
    await assert.rejects(
      d.prepareIncoming(vmSpec(), { live: true }),
      (e: unknown) => e instanceof DriverError && e.code === 'unsupported' && /peerUri/.test(e.message),
    );
    const spec = vmSpec();
    const forged: MigrationEndpoint[] = [
      { driver: 'qemu' },
      {
        driver: 'libvirt',
        mode: 'live',
        uri: 'qemu:///system',
        migrationHost: '',
        storageId: 'x',
        diskPath: `/s/${spec.id}/disk.qcow2`,
        diskBytes: 1,
      },
      {
        driver: 'libvirt',
        mode: 'live',
        uri: 'qemu+tcp://h/system',
        migrationHost: '',
        storageId: 'x',
        diskPath: '/etc/passwd',
        diskBytes: 1,
      },
      {
        driver: 'libvirt',
        mode: 'live',
        uri: 'qemu+tcp://h/system',
        migrationHost: 'a b',
        storageId: 'x',
        diskPath: `/s/${spec.id}/disk.qcow2`,
        diskBytes: 1,
      },
    ];
    for (const bad of forged) {
      await assert.rejects(d.migrate(spec, bad, { live: true }), /invalid libvirt migration endpoint/);
    }
  });

  test("undeclared capabilities (the test driver's, or disabled in the URI) are refused as unsupported", async () => {
    const spec = vmSpec();
    const node = join(dir, 'node-disabled.xml');
    writeFileSync(node, testNodeXml(`vl-${spec.id}`));
    const storage = join(dir, 'storage-disabled');
    mkdirSync(join(storage, spec.id), { recursive: true });
    const uri = `test://${node}?disable=pause,reboot,memorySnapshots`;
    const d = new LibvirtDriver({ id: 'h3', driver: 'libvirt', uri, storageDir: storage });
    assert.deepEqual(
      [d.capabilities.pause, d.capabilities.reboot, d.capabilities.memorySnapshots, d.capabilities.diskSnapshots],
      [false, false, false, true],
    );
    const unsupported = (e: unknown) => e instanceof DriverError && e.code === 'unsupported';
    await assert.rejects(d.pause(spec), unsupported);
    await assert.rejects(d.resume(spec), unsupported);
    await assert.rejects(d.reboot(spec), unsupported);
    await assert.rejects(d.snapshot(spec, 's', { memory: true }), unsupported); // the domain runs: a memory one
    await assert.rejects(d.prepareIncoming(spec, { live: true }), unsupported); // test:/// has no migration
    await assert.rejects(d.migrate(spec, {}, { live: false }), unsupported);
    assert.deepEqual(await d.listSnapshots(spec), [], 'nothing was taken');
    assert.throws(
      () =>
        new LibvirtDriver({ id: 'h4', driver: 'libvirt', uri: 'qemu:///system?disable=teleport', storageDir: storage }),
      /disable: unknown capability "teleport"/,
    );
  });

  test('live migration arguments: peer-to-peer, persistent on the target, stream to the given address', () => {
    const e = {
      driver: 'libvirt' as const,
      mode: 'live' as const,
      uri: 'qemu+tcp://10.0.0.2/system',
      migrationHost: 'fd00::2',
      storageId: 's',
      diskPath: '/t/vm-1/disk.qcow2',
      diskBytes: 1,
    };
    assert.deepEqual(liveMigrationArgs('vl-vm-1', e), [
      'migrate',
      '--live',
      '--p2p',
      '--persistent',
      '--undefinesource',
      'vl-vm-1',
      'qemu+tcp://10.0.0.2/system',
      '--migrateuri',
      'tcp://[fd00::2]',
    ]);
    assert.equal(
      rewriteVmDir(
        "<source file='/s/vm-1/disk.qcow2'/><log file='/s/vm-1/console.log'/><x file='/s/vm-10/y'/>",
        '/s/vm-1',
        '/t/vm-1',
      ),
      "<source file='/t/vm-1/disk.qcow2'/><log file='/t/vm-1/console.log'/><x file='/s/vm-10/y'/>",
    );
  });

  test('capabilities are declared per URI', () => {
    const q = driverCapabilities('libvirt', 'qemu:///system?domainType=qemu');
    assert.equal(q.liveMigration, true);
    assert.equal(q.memorySnapshots, true);
    assert.equal(q.hardwareAcceleration, false);
    // A remote libvirtd's KVM cannot be probed from here: declared as asked.
    assert.equal(driverCapabilities('libvirt', 'qemu+tcp://hv2/system?domainType=kvm').hardwareAcceleration, true);
    // A local one is probed: accepted only where this machine really has KVM.
    const local = () => driverCapabilities('libvirt', 'qemu:///system?domainType=kvm');
    if (kvmUsable()) assert.equal(local().hardwareAcceleration, true);
    else assert.throws(local, /domainType=kvm: this machine has no usable KVM/);
    const t = driverCapabilities('libvirt', 'test:///default');
    assert.equal(t.liveMigration, false);
    assert.equal(t.diskSnapshots, true);
    const x = driverCapabilities('libvirt', 'xen:///system');
    assert.deepEqual([x.liveMigration, x.memorySnapshots, x.pause], [false, false, true]);
    assert.throws(() => driverCapabilities('libvirt', 'not a uri'), /invalid libvirt host URI/);
    assert.throws(() => driverCapabilities('libvirt', 'qemu:///system?domainType=xen'), /domainType/);
  });

  test("host URI: our parameters are removed, libvirt's are kept", () => {
    const c = parseLibvirtUri('qemu+ssh://root@hv2/system?keyfile=/k&storage=/srv/vms&stopTimeoutMs=5000');
    assert.equal(c.connectUri, 'qemu+ssh://root@hv2/system?keyfile=%2Fk');
    assert.equal(c.storageDir, '/srv/vms');
    assert.equal(c.stopTimeoutMs, 5000);
    assert.equal(c.peerUri, 'qemu+ssh://root@hv2/system?keyfile=%2Fk');
    assert.equal(c.migrationHost, 'hv2');
    const local = parseLibvirtUri('qemu:///system');
    assert.equal(local.connectUri, 'qemu:///system');
    assert.equal(local.peerUri, undefined);
    assert.throws(() => parseLibvirtUri('qemu:///system?peerUri=qemu:///system'), /peerUri must name a host/);
    assert.throws(() => parseLibvirtUri('qemu:///system?storage=rel'), /absolute/);
  });

  test('domstate, list, snapshot-list and event lines parse as libvirt prints them', () => {
    assert.deepEqual(parseDomstate('running (booted)\n\n'), { state: 'running', detail: 'running (booted)' });
    assert.equal(parseDomstate('shut off (crashed)').state, 'crashed');
    assert.equal(parseDomstate('shut off (destroyed)').state, 'stopped');
    assert.equal(parseDomstate('paused (user)').state, 'paused');
    assert.equal(parseDomstate('paused (migration)').state, 'migrating');
    assert.equal(parseDomstate('running (migrated)').state, 'running');
    assert.equal(parseDomstate('crashed (panicked)').state, 'crashed');
    assert.deepEqual(parseDomainList(' 1    vl-a     running\n -    my odd vm   shut off\n 3    b   paused\n'), [
      { name: 'vl-a', state: 'running', detail: 'running' },
      { name: 'my odd vm', state: 'stopped', detail: 'shut off' },
      { name: 'b', state: 'paused', detail: 'paused' },
    ]);
    assert.deepEqual(
      parseSnapshotList(' s1   2026-11-27 04:11:12 +0000   running\n cold   2026-11-27 05:00:00 +0100   shutoff\n'),
      [
        { name: 's1', memory: true, createdAt: '2026-11-27T04:11:12.000Z' },
        { name: 'cold', memory: false, createdAt: '2026-11-27T04:00:00.000Z' },
      ],
    );
    assert.deepEqual(parseEventLine("event 'lifecycle' for domain 'vl-x': Stopped Destroyed"), {
      domain: 'vl-x',
      what: 'Stopped Destroyed',
    });
    assert.equal(parseEventLine('events received: 3'), undefined);
    assert.deepEqual(parseJobStats('type=2\ndata_total=1000\ndata_processed=250\ndata_remaining=750\n'), {
      message: 'migrating',
      totalBytes: 1000,
      transferredBytes: 250,
      remainingBytes: 750,
      percent: 25,
    });
    assert.deepEqual(
      parseJobStats('data_total=0\ndata_processed=0\ndisk_total=400\ndisk_processed=100\ndisk_remaining=300\n'),
      {
        message: 'copying the disk',
        totalBytes: 400,
        transferredBytes: 100,
        remainingBytes: 300,
        percent: 25,
      },
    );
    assert.equal(parseJobStats('type=0\ndata_total=0\n'), undefined);
    assert.deepEqual(
      parseDomstats(
        "Domain: 'vl-a'\n  state.state=5\n  state.reason=3\n\nDomain: 'b c'\n  state.state=3\n  state.reason=1\n\nDomain: 'd'\n  state.state=1\n  state.reason=1\n",
      ),
      [
        { name: 'vl-a', state: 'crashed', detail: 'shut off (crashed)' },
        { name: 'b c', state: 'paused', detail: 'paused (user)' },
        { name: 'd', state: 'running', detail: 'running' },
      ],
    );
  });

  test("domain XML matches the golden files, validates against libvirt's schema and defines on test:///", () => {
    for (const [name, input] of Object.entries(GOLDEN)) {
      const xml = domainXml(input);
      const file = join(goldenDir, `${name}.xml`);
      if (process.env.VL_UPDATE_GOLDEN === '1') writeFileSync(file, xml);
      assert.ok(existsSync(file), `golden file ${file} (VL_UPDATE_GOLDEN=1 writes it)`);
      assert.equal(xml, readFileSync(file, 'utf8'), `${name}.xml differs from the generated XML`);
      const validate = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8' });
      if (validate.error === undefined) assert.equal(validate.status, 0, `${name}: ${validate.stderr}`);
      // libvirt's own parser (a test:/// define) accepts it; the kvm one too, since test:/// ignores the type.
      const def = spawnSync('virsh', ['-q', '-c', 'test:///default', `define ${file}; dumpxml ${input.domainName}`], {
        encoding: 'utf8',
      });
      assert.equal(def.status, 0, def.stderr);
      assert.match(def.stdout, new RegExp(`<uuid>${uuidFor(input.vmId)}</uuid>`));
      assert.match(def.stdout, /<target dev='vda' bus='virtio'\/>/);
      assert.match(def.stdout, /<model type='virtio'\/>/);
    }
  });
});
