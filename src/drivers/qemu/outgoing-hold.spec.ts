import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { OutgoingHolds } from './outgoing-hold.js';
import type { QemuDomain } from './qemu-domain.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpEvent } from './qmp.types.js';

/** A QMP connection that answers every command at once and keeps the events it was "sent". */
class FakeClient {
  readonly commands: string[] = [];
  readonly recentEvents: QmpEvent[] = [];
  closed = false;

  execute(command: string): Promise<unknown> {
    this.commands.push(command);
    return Promise.resolve(command === 'query-status' ? { status: 'running', running: true } : {});
  }

  event(name: string): void {
    this.recentEvents.push({ event: name, timestamp: { seconds: 0, microseconds: 0 } } as QmpEvent);
  }
}

/** The domain as OutgoingHolds uses it: one connection, held or not. */
function fakeDomain(client: FakeClient, running = true) {
  const state = { held: false, released: 0 };
  const dom = {
    vmId: 'vm-1',
    host: { config: { migrationBandwidth: 1000 } },
    livePid: () => (running ? 1234 : undefined),
    qmp: <T>(fn: (c: QmpClient) => Promise<T>) => fn(client as unknown as QmpClient),
    holdQmp: () => (state.held = true),
    releaseQmp: () => {
      state.held = false;
      state.released++;
    },
  };
  return { dom: dom as unknown as QemuDomain, state };
}

describe('OutgoingHolds: a migration source made ready ahead', () => {
  test('asks the status and sets the parameters once, holds the connection; the migrate takes the status once', async () => {
    const holds = new OutgoingHolds();
    const c = new FakeClient();
    const { dom, state } = fakeDomain(c);
    await holds.hold(dom);
    assert.deepEqual(c.commands.sort(), ['migrate-set-capabilities', 'migrate-set-parameters', 'query-status']);
    assert.equal(state.held, true);
    assert.deepEqual(holds.take('vm-1', c as unknown as QmpClient), { status: 'running', running: true });
    assert.equal(holds.take('vm-1', c as unknown as QmpClient), undefined, 'once: a retried migrate asks QEMU');
    holds.end(dom);
    assert.equal(state.held, false);
    holds.closeAll();
  });

  test('an event since, another connection, or a closed one: the migrate asks QEMU again', async () => {
    const holds = new OutgoingHolds();
    const c = new FakeClient();
    const { dom } = fakeDomain(c);
    await holds.hold(dom);
    c.event('STOP'); // paused meanwhile: the status known is not the VM's any more
    assert.equal(holds.take('vm-1', c as unknown as QmpClient), undefined);

    await holds.hold(dom);
    assert.equal(holds.take('vm-1', new FakeClient() as unknown as QmpClient), undefined, 'another connection');

    await holds.hold(dom);
    c.closed = true;
    assert.equal(holds.take('vm-1', c as unknown as QmpClient), undefined, 'a closed connection');
    holds.closeAll();
  });

  test('a VM not running here is not held; a hold no migrate follows ends by itself', async () => {
    const holds = new OutgoingHolds();
    const idle = new FakeClient();
    await holds.hold(fakeDomain(idle, false).dom);
    assert.deepEqual(idle.commands, [], 'nothing asked of a VM that does not run here');

    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const c = new FakeClient();
      const { dom, state } = fakeDomain(c);
      await holds.hold(dom, 1000);
      assert.equal(state.held, true);
      mock.timers.tick(999);
      assert.equal(state.held, true);
      mock.timers.tick(1);
      assert.equal(state.held, false, 'released when the hold ran out');
      assert.equal(holds.take('vm-1', c as unknown as QmpClient), undefined, 'and forgotten');
    } finally {
      mock.timers.reset();
      holds.closeAll();
    }
  });
});
