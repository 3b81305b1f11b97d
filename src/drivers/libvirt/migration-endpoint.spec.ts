import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEndpoint } from './migration-endpoint.js';

const base = {
  driver: 'libvirt',
  mode: 'live',
  uri: 'qemu+tcp://127.0.0.1:16510/system',
  migrationHost: '127.0.0.1',
  storageId: 'abc',
  diskPath: '/srv/vl/vm-1/disk.qcow2',
  diskBytes: 1024,
};

describe('libvirt migration endpoint: volumesDir', () => {
  test('absent (an older target) parses without it; a storage volumes dir is kept', () => {
    assert.equal(parseEndpoint(base, 'vm-1').volumesDir, undefined);
    assert.equal(parseEndpoint({ ...base, volumesDir: '/srv/vl/volumes' }, 'vm-1').volumesDir, '/srv/vl/volumes');
  });

  test('anything but an absolute, normalized <storage>/volumes is refused (it reaches XML and cp)', () => {
    for (const bad of ['volumes', '/srv/vl/../etc/volumes', '/srv/vl/other', '/srv/vl/volumes/', 7]) {
      assert.throws(() => parseEndpoint({ ...base, volumesDir: bad }, 'vm-1'), /volumesDir/);
    }
  });
});
