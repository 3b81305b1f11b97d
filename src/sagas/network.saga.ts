import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/**
 * A VM's addresses go back to their networks when the VM is deleted, or when its create failed
 * placement (it never reached a host and never will). A create that failed on its host keeps
 * them until the VM is deleted: it may be looked at, and deleting it releases them.
 */
export function networkSaga(event: VmEvent, _before: VmState, after: VmState): SagaAction[] {
  const vmId = after.id;
  const networkIds = [...new Set((after.spec?.nics ?? []).map((n) => n.networkId))];
  if (!vmId || networkIds.length === 0) return [];
  const release: SagaAction = { type: 'releaseAddresses', vmId, networkIds };
  switch (event.type) {
    case 'VmDeleted':
      return [release];
    case 'VmOperationFailed':
      return event.data.kind === 'create' && event.data.step === 'placement' ? [release] : [];
    default:
      return [];
  }
}
