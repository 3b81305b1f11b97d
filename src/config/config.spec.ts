import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.js';

describe('config: EVENTSTORE_URL', () => {
  test('KurrentDB single nodes, clusters (+discover, several hosts) and the old esdb spellings are accepted', () => {
    for (const url of [
      'kurrentdb://localhost:2113?tls=false',
      'kurrentdb+discover://admin:changeit@cluster.example:2113?nodePreference=leader',
      'esdb+discover://cluster.example:2113',
      'esdb://localhost:2113?tls=false',
      'kurrentdb://n1:2113,n2:2113,n3:2113',
      'kurrent+discover://cluster.example',
      'kdb://localhost:2113',
    ]) {
      assert.equal(loadConfig({ EVENTSTORE_URL: url }).eventStoreUrl, url);
    }
  });

  test('an unknown scheme is refused with a message that shows the cluster form', () => {
    assert.throws(
      () => loadConfig({ EVENTSTORE_URL: 'kurrentdb+gossip://x:2113' }),
      (err: unknown) => err instanceof ConfigError && /kurrentdb\+discover:\/\//.test(err.message),
    );
  });
});

describe('config: the control-plane lease', () => {
  test('LEASE_MAX_STALL_MS defaults to 3 × LEASE_TTL_MS, may be set, and a bad value is refused naming it', () => {
    assert.equal(loadConfig({}).leaseMaxStallMs, 9000);
    assert.equal(loadConfig({ LEASE_TTL_MS: '1000' }).leaseMaxStallMs, 3000);
    assert.equal(loadConfig({ LEASE_MAX_STALL_MS: '2000' }).leaseMaxStallMs, 2000);
    for (const bad of ['100', 'soon'])
      assert.throws(
        () => loadConfig({ LEASE_MAX_STALL_MS: bad }),
        (err: unknown) => err instanceof ConfigError && /LEASE_MAX_STALL_MS/.test(err.message),
      );
  });
});
