import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDriver,
  driverCapabilities,
  DriverConfigError,
  knownDriverKinds,
  registerDriver,
} from './driver-registry.js';
import { SimulatedDriver } from './simulated/simulated.driver.js';

describe('driver registry', () => {
  it('builds a simulated driver for a simulated host', () => {
    const d = createDriver({ id: 'h1', driver: 'simulated', uri: 'simulated://', storageDir: '/tmp/vl-unused' });
    assert.ok(d instanceof SimulatedDriver);
    assert.equal(d.kind, 'simulated');
    assert.ok(knownDriverKinds().includes('simulated'));
  });

  it('tells capabilities from the URI alone', () => {
    const caps = driverCapabilities('simulated', 'simulated://?liveMigration=false&pause=false');
    assert.equal(caps.liveMigration, false);
    assert.equal(caps.pause, false);
    assert.equal(caps.coldMigration, true);
  });

  it('refuses unknown kinds and bad URIs with DriverConfigError naming the problem', () => {
    assert.throws(
      () => driverCapabilities('xen', 'xen://'),
      (e: unknown) => {
        assert.ok(e instanceof DriverConfigError);
        assert.match(e.message, /unknown driver "xen".*simulated/);
        return true;
      },
    );
    assert.throws(() => driverCapabilities('simulated', 'simulated://?failureRate=7'), DriverConfigError);
    assert.throws(
      () => createDriver({ id: 'h9', driver: 'simulated', uri: 'simulated://?seed=x', storageDir: '/tmp/x' }),
      /host h9: .*seed/,
    );
  });

  it('registers a new kind once', () => {
    const caps = driverCapabilities('simulated', 'simulated://');
    const factory = (h: Parameters<typeof createDriver>[0]) => new SimulatedDriver({ ...h, uri: 'simulated://' });
    // Relative to what is registered already, so adding a driver kind does not break this test.
    const before = knownDriverKinds();
    assert.ok(before.includes('qemu') && before.includes('simulated') && !before.includes('fake'));
    registerDriver('fake', factory, () => caps);
    assert.deepEqual(knownDriverKinds(), [...before, 'fake'].sort());
    assert.equal(createDriver({ id: 'h', driver: 'fake', uri: 'fake://', storageDir: '/tmp/x' }).kind, 'simulated');
    assert.throws(() => registerDriver('fake', factory, () => caps), /already registered/);
    assert.throws(() => registerDriver('Bad Kind', factory, () => caps), /lowercase/);
  });
});
