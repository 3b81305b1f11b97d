import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriverError } from '../hypervisor-driver.port.js';
import { migratedAway, type VirshCall } from './libvirt-migration.js';

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
