import assert from 'node:assert/strict';
import { fold } from '../../src/domain/decider.js';
import { vmDecider } from '../../src/domain/vm/vm.decider.js';
import type { VmEvent } from '../../src/domain/vm/vm.events.js';
import type { VmState } from '../../src/domain/vm/vm.state.js';
import type { SagaAction } from '../../src/sagas/saga.actions.js';

type Saga = (event: VmEvent, before: VmState, after: VmState) => SagaAction[];

/**
 * Given / when / then for the pure sagas, in the style of decider-spec.ts:
 *
 *   sagaSpec(lifecycleSaga).given(history).when(event).then([expectedActions]);
 *   sagaSpec(lifecycleSaga).given(history).when(event).thenNothing();
 *
 * `given` folds the VM's history with the decider's evolve (the state before the event); `when`
 * evolves the event too (the state after) and runs the saga on both, as the saga runner does.
 * Every `then*` also checks that the saga left both states untouched (sagas are pure).
 */
export function sagaSpec(saga: Saga) {
  return {
    given(history: VmEvent[]) {
      const before = fold(vmDecider, history);
      return {
        when(event: VmEvent) {
          const after = vmDecider.evolve(before, event);
          const run = (): SagaAction[] => {
            const snapshot = structuredClone({ before, after });
            const actions = saga(event, before, after);
            assert.deepEqual({ before, after }, snapshot, 'a saga must not mutate the states it is given');
            return actions;
          };
          return {
            then(expected: SagaAction[]): void {
              assert.deepEqual(run(), expected);
            },
            thenNothing(): void {
              assert.deepEqual(run(), []);
            },
          };
        },
      };
    },
  };
}

/** A small VM history: created (not started), placed on `hostId`, defined; then running if asked. */
export const VM_ID = 'vm-1';
export const SPEC = { name: 'web-1', vcpus: 2, memoryMiB: 1024, diskGiB: 8 };

export function createdOn(hostId: string, opts: { running?: boolean } = {}): VmEvent[] {
  const operationId = 'op-create';
  const history: VmEvent[] = [
    {
      type: 'VmCreateRequested',
      data: { vmId: VM_ID, operationId, spec: SPEC, requestedHostId: null, start: opts.running ?? true },
    },
    { type: 'VmPlaced', data: { operationId, hostId } },
    { type: 'VmDefined', data: { operationId, hostId } },
  ];
  if (opts.running ?? true) history.push({ type: 'VmStarted', data: { operationId } });
  return history;
}
