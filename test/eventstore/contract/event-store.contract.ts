import { after, before, describe, test } from 'node:test';
import type { EventStore } from '../../../src/eventstore/event-store.port.js';
import { uniqueName } from '../../support/env.js';
import { appendCases } from './appends.cases.js';
import { checkpointCases } from './checkpoints.cases.js';
import { hashCases } from './hashes.cases.js';
import { readCases } from './reads.cases.js';
import { subscriptionCases } from './subscriptions.cases.js';
import type { ContractScope, ContractTarget } from './support.js';

/**
 * The EventStore port's contract for one store kind: one suite, one store opened for all its cases
 * (each case writes streams of its own), the cases kept by concern in the files imported above.
 */
export function eventStoreContract(target: ContractTarget): void {
  const title = `EventStore contract: ${target.name}`;
  if (target.skip) {
    test(title, { skip: target.skip }, () => undefined);
    return;
  }

  describe(title, () => {
    let store: EventStore | undefined;
    let run = '';
    const scope: ContractScope = {
      target,
      get store(): EventStore {
        if (!store) throw new Error(`${title}: the store is opened in the suite's before hook, read it inside a test`);
        return store;
      },
      get run(): string {
        return run;
      },
      stream: (name) => `${run}-${name}`,
    };

    before(async () => {
      run = uniqueName('run');
      store = await target.open();
    });

    after(async () => {
      await store?.close();
      await target.destroy?.();
    });

    test('init() is idempotent and ping() answers', async () => {
      await scope.store.init();
      await scope.store.ping();
    });

    appendCases(scope);
    readCases(scope);
    hashCases(scope);
    checkpointCases(scope);
    subscriptionCases(scope);
  });
}
