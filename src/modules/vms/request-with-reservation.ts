import { handleCommandPair } from '../../application/handle-command-pair.js';
import type { CommandMeta, HandleResult } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import type { HostCommand } from '../../domain/host/host.commands.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import { hostStream, vmStream } from '../../domain/streams.js';
import type { VmCommand } from '../../domain/vm/vm.commands.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import type { VmState } from '../../domain/vm/vm.state.js';

/**
 * The reservation a request needs on another host before its first job (a migration's target),
 * made from the VM's state the request is decided on (its spec's size then).
 */
export interface Reservation {
  hostId: string;
  command: (vm: VmState) => Extract<HostCommand, { type: 'ReserveCapacity' }>;
}

/**
 * A VM's request and the reservation its saga would make next, in one commit where the store
 * can (handleCommandPair): a live migration's request and its target's reservation were two
 * fsync'd appends in a row before the target's first job. The saga still reserves on the
 * request (it finds the reservation made, and decides nothing), so a log written without it,
 * or by a store without appendMany, goes on as before.
 *
 * Undefined when the target refuses the reservation (full, draining, unreachable): the caller
 * then records the request alone and the saga's reservation fails the operation, as it did (an
 * accepted request, failed at its step with the host's reason). A refusal of the request itself
 * is thrown as handleCommand would; nothing is appended then.
 */
export async function requestWithReservation(
  aggregates: AggregateLoader,
  vmId: string,
  request: VmCommand,
  reservation: Reservation,
  meta: CommandMeta,
  now: () => Date,
): Promise<HandleResult<VmState> | undefined> {
  const outcome = await handleCommandPair(
    aggregates,
    { decider: hostDecider, streamId: hostStream(reservation.hostId), command: reservation.command },
    { decider: vmDecider, streamId: vmStream(vmId), command: request },
    meta,
    { now },
  );
  if (outcome.ok) return outcome.second;
  if (outcome.refused === 'second') throw outcome.error;
  return undefined;
}
