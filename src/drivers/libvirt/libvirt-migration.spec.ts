import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriverError } from '../hypervisor-driver.port.js';
import {
  liveMigrationArgs,
  migrateLive,
  migratedAway,
  type LiveMigration,
  type VirshCall,
} from './libvirt-migration.js';
import { parseLibvirtUri } from './libvirt-uri.js';

/** virsh answering from a table: a string is the output, a DriverError is thrown. */
function virsh(answers: Record<string, Array<string | DriverError>>): VirshCall {
  const seen: Record<string, number> = {};
  return (args) => {
    const list = answers[args[0] ?? ''] ?? [''];
    const i = Math.min(seen[args[0] ?? ''] ?? 0, list.length - 1);
    seen[args[0] ?? ''] = i + 1;
    const a = list[i];
    return a instanceof DriverError ? Promise.reject(a) : Promise.resolve(a ?? '');
  };
}
const gone = new DriverError('not_found', "failed to get domain 'vl-x'");

describe('migratedAway: after domjobabort, libvirt says whether the migration had completed', () => {
  test('the domain is gone (--undefinesource): completed, too late to cancel', async () => {
    assert.equal(await migratedAway(virsh({ domjobinfo: [gone] }), 'vl-x'), true);
  });
  test('the job ends, the domain shut off (migrated): completed', async () => {
    const v = virsh({
      domjobinfo: ['Job type:         Unbounded\n', 'Job type:         None\n'],
      domstate: ['shut off (migrated)\n'],
    });
    assert.equal(await migratedAway(v, 'vl-x'), true);
  });
  test('the job ends, the domain running: the cancel came in time', async () => {
    const v = virsh({ domjobinfo: ['Job type:         None\n'], domstate: ['running (migration canceled)\n'] });
    assert.equal(await migratedAway(v, 'vl-x'), false);
  });
  test('libvirtd unreachable: not a completion', async () => {
    assert.equal(
      await migratedAway(virsh({ domjobinfo: [new DriverError('failed', 'no connection')] }), 'vl-x'),
      false,
    );
  });
});

describe('the bandwidth cap of a live migration', () => {
  const endpoint = {
    driver: 'libvirt' as const,
    mode: 'live' as const,
    uri: 'qemu+tcp://10.0.0.2/system',
    migrationHost: '10.0.0.2',
    storageId: 's',
    diskPath: '/srv/x/disk.qcow2',
    diskBytes: 1,
  };
  test('migrationBandwidth= (MiB/s) becomes --bandwidth; absent, libvirt chooses', () => {
    assert.equal(parseLibvirtUri('qemu:///system?migrationBandwidth=5').migrationBandwidth, 5);
    assert.equal(parseLibvirtUri('qemu:///system').migrationBandwidth, undefined);
    assert.throws(
      () => parseLibvirtUri('qemu:///system?migrationBandwidth=0'),
      /migrationBandwidth must be a positive/,
    );
    assert.deepEqual(liveMigrationArgs('vl-x', endpoint, 5).slice(-4), [
      '--bandwidth',
      '5',
      '--migrateuri',
      'tcp://10.0.0.2',
    ]);
    assert.ok(!liveMigrationArgs('vl-x', endpoint).includes('--bandwidth'));
  });
});

describe("migrateLive: a cancel aborts libvirt's job and libvirt's answer decides", () => {
  const live: LiveMigration = {
    uri: 'qemu:///system',
    domain: 'vl-x',
    vmDir: '/srv/a/x',
    disk: '/srv/a/x/disk.qcow2',
    endpoint: {
      driver: 'libvirt',
      mode: 'live',
      uri: 'qemu+tcp://10.0.0.2/system',
      migrationHost: '10.0.0.2',
      storageId: 's',
      diskPath: '/srv/a/x/disk.qcow2',
      diskBytes: 1,
    },
    shared: true,
    timeoutMs: 60_000,
  };
  /** `virsh migrate` runs until a domjobabort lands (the first ones find no job yet); then answers `outcome`. */
  function libvirt(outcome: 'cancelled' | 'completed', missedAborts = 1) {
    const calls: string[][] = [];
    let settle: (() => void) | undefined;
    let aborts = 0;
    const call: VirshCall = (args, ctx) => {
      calls.push(args);
      if (args[0] === 'migrate') {
        assert.equal(ctx.signal, undefined, 'virsh migrate is never killed by the abort');
        return new Promise<string>((resolve, reject) => {
          settle = () =>
            outcome === 'completed'
              ? resolve('')
              : reject(
                  new DriverError('failed', 'virsh migrate: operation aborted: migration out: canceled by client'),
                );
        });
      }
      if (args[0] === 'domjobabort') {
        aborts++;
        if (aborts <= missedAborts) return Promise.reject(new DriverError('failed', 'no job is active on the domain'));
        settle?.();
        return Promise.resolve('');
      }
      if (args[0] === 'domjobinfo' && args.includes('--completed')) return Promise.resolve('Job type:         None\n');
      if (args[0] === 'domjobinfo') return Promise.resolve('Job type:         None\n');
      if (args[0] === 'domstate') return Promise.resolve('running (migration canceled)\n');
      return Promise.resolve('');
    };
    return { call, calls };
  }

  test("in time: domjobabort retried until libvirt has a job, then libvirt's own error is the failure", async () => {
    const { call, calls } = libvirt('cancelled', 2);
    const controller = new AbortController();
    const running = migrateLive(call, live, { signal: controller.signal });
    controller.abort(new Error('operator cancelled'));
    await assert.rejects(running, /operation aborted: migration out: canceled by client$/);
    assert.ok(calls.filter((c) => c[0] === 'domjobabort').length >= 3, JSON.stringify(calls));
  });
  test('too late: virsh migrate succeeded anyway, so the migration is a success (the guest is on the target)', async () => {
    const { call } = libvirt('completed');
    const controller = new AbortController();
    const running = migrateLive(call, live, { signal: controller.signal });
    controller.abort(new Error('operator cancelled'));
    await running;
  });
  test('aborted before it started: no migrate at all', async () => {
    const { call, calls } = libvirt('cancelled');
    const controller = new AbortController();
    controller.abort(new Error('operator cancelled'));
    await assert.rejects(migrateLive(call, live, { signal: controller.signal }), /not started/);
    assert.ok(!calls.some((c) => c[0] === 'migrate'));
  });
});
