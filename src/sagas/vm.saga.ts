import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import { lifecycleSaga } from './lifecycle.saga.js';
import { migrationSaga } from './migration.saga.js';
import { networkSaga } from './network.saga.js';
import { provisioningSaga } from './provisioning.saga.js';
import { resizeSaga } from './resize.saga.js';
import type { SagaAction } from './saga.actions.js';
import { snapshotSaga } from './snapshot.saga.js';
import { vmVolumesSaga } from './vm-volumes.saga.js';

const SAGAS = [provisioningSaga, lifecycleSaga, snapshotSaga, migrationSaga, networkSaga, vmVolumesSaga, resizeSaga];

/** All process managers over one VM event: `before`/`after` are the VM's state around the event. */
export function reactToVmEvent(event: VmEvent, before: VmState, after: VmState): SagaAction[] {
  return SAGAS.flatMap((saga) => saga(event, before, after));
}
