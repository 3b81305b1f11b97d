import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReadModelKeys } from './read-model.keys.js';

describe('ReadModelKeys', () => {
  it("a shadow's interned keys are the live layout under the shadow's root, the same string for the same id", () => {
    const live = new ReadModelKeys('vl');
    const shadow = live.shadow('rebuild-1');
    const families = [
      ['vm', 'vm:'],
      ['operation', 'op:'],
      ['operationsByVm', 'ops:vm:'],
      ['operationsByPrincipal', 'ops:principal:'],
      ['vmsByProject', 'vms:project:'],
    ] as const;
    for (const [name, family] of families) {
      for (const id of ['a', 'user:x', 'b']) {
        assert.equal(shadow[name](id), `vl:shadow:rebuild-1:rm:${family}${id}`);
        assert.equal(live[name](id), `vl:rm:${family}${id}`);
        assert.equal(shadow.relative(shadow[name](id)), live.relative(live[name](id)));
      }
    }
    // Two shadows never hand out each other's keys.
    assert.equal(live.shadow('check-2').vm('a'), 'vl:shadow:check-2:rm:vm:a');
  });
});
