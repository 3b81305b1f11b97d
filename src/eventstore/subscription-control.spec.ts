import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SubscriptionControl } from './subscription-control.js';
import type { RecordedEvent } from './event-store.port.js';

const event = (position: bigint) => ({ position }) as unknown as RecordedEvent;

/**
 * In a process of its own (node:test turns async hooks on itself): an event delivered, then
 * whether a promise continuation got an async id of its own, which happens only while
 * Node's promise hooks are on (an AsyncLocalStorage.run turns them on for the whole process).
 */
const CHILD = `
import { executionAsyncId } from 'node:async_hooks';
const { SubscriptionControl } = await import(process.argv[1]);
const probe = async () => { const before = executionAsyncId(); await Promise.resolve(); return before !== executionAsyncId(); };
const ctl = new SubscriptionControl({ onEvent: async () => { await Promise.resolve(); } });
const delivered = await ctl.deliver({ position: 1n });
console.log(JSON.stringify({ delivered, hooksOn: await probe() }));
`;

describe('SubscriptionControl', () => {
  test("delivering events leaves Node's promise hooks off (every promise of the process would pay them)", () => {
    const module = new URL('./subscription-control.js', import.meta.url).href;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, module], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { delivered: true, hooksOn: false });
  });

  test('stop() called by the handler itself resolves at once; called from outside, it waits for the handler', async () => {
    let release = () => {};
    const inside = new SubscriptionControl({
      onEvent: async () => {
        await inside.stop();
      },
    });
    assert.equal(await inside.deliver(event(1n)), false);

    const outside = new SubscriptionControl({
      onEvent: () => new Promise<void>((resolve) => (release = resolve)),
    });
    let handlerDone = false;
    outside.run(
      async () => {
        await outside.deliver(event(1n));
        handlerDone = true;
      },
      () => undefined,
    );
    await Promise.resolve();
    const stopped = outside.stop().then(() => handlerDone);
    release();
    assert.equal(await stopped, true);
  });
});
