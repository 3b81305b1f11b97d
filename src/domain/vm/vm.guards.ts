import { DomainError } from '../domain-error.js';
import type { VmState } from './vm.state.js';
import type { VmStateName } from './vm.types.js';

/** The refusals every VM command shares (the deciders of each concern import them from here). */
export function mustExist(state: VmState): void {
  if (!state.exists) throw new DomainError('not_found', 'VM not found');
  if (state.state === 'deleted') throw new DomainError('not_found', `VM ${state.id} was deleted`);
}

/** One mutating operation per VM at a time: the 409 names the one in flight. */
export function mustBeIdle(state: VmState): void {
  if (state.pending) {
    throw new DomainError(
      'conflict',
      `VM ${state.id} is busy with operation ${state.pending.id} (${state.pending.kind}); retry when it has finished`,
      { operationId: state.pending.id, kind: state.pending.kind },
    );
  }
}

export function mustBeIn(state: VmState, allowed: VmStateName[], verb: string): void {
  if (!allowed.includes(state.state)) {
    throw new DomainError(
      'conflict',
      `cannot ${verb} a VM that is ${state.state} (allowed from: ${allowed.join(', ')})`,
      {
        state: state.state,
      },
    );
  }
}

export function mustSupport(ok: boolean, what: string): void {
  if (!ok) throw new DomainError('unsupported', `the host's driver cannot ${what}`);
}

export function ready(state: VmState, allowed: VmStateName[], verb: string): void {
  mustExist(state);
  mustBeIdle(state);
  mustBeIn(state, allowed, verb);
}
