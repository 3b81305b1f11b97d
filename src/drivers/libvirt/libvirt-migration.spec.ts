import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriverError } from '../hypervisor-driver.port.js';
import { liveMigrationArgs, migratedAway, type VirshCall } from './libvirt-migration.js';
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
