import { DomainError } from '../domain/domain-error.js';
import { networkDecider } from '../domain/network/network.decider.js';
import { networkStream, vmStream } from '../domain/streams.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import type { NicSpec } from '../domain/vm/vm.types.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

/** At most this many NICs per VM (PCI slots and the seed's network-config stay small). */
export const MAX_NICS = 4;

function field(i: number): string {
  return `nics[${i}].networkId`;
}

/** The same refusal, its message led by the request field it is about. */
function named(err: DomainError, i: number): DomainError {
  return new DomainError(err.code, `${field(i)}: ${err.message}`, { ...err.details, field: field(i) });
}

/** Refuses up front (404 naming the field) a NIC on a network that does not exist or was deleted. */
export async function checkNetworks(aggregates: AggregateLoader, networkIds: readonly string[]): Promise<void> {
  for (const [i, id] of networkIds.entries()) {
    const { state } = await aggregates.load(networkDecider, networkStream(id));
    if (!state.exists)
      throw new DomainError('not_found', `${field(i)}: network ${id} ${state.deleted ? 'was deleted' : 'not found'}`, {
        field: field(i),
      });
  }
}

/**
 * Allocates an address for each NIC of a VM about to be created, before its first event. Each
 * allocation is appended to the network's own stream at its expected revision (handleCommand
 * re-decides on a conflict), so two concurrent creates never get one address. When one NIC
 * cannot get an address (the network is full or gone) the ones already taken are released and
 * the refusal names the NIC: the VM's stream is never written.
 */
export async function allocateNics(
  aggregates: AggregateLoader,
  vmId: string,
  project: string,
  networkIds: readonly string[],
  principal: string,
  operationId: string,
  now: () => Date = () => new Date(),
): Promise<NicSpec[]> {
  const meta = createMeta(principal, operationId);
  const nics: NicSpec[] = [];
  try {
    for (const [i, networkId] of networkIds.entries()) {
      let state;
      try {
        ({ state } = await handleCommand(
          aggregates,
          networkDecider,
          networkStream(networkId),
          { type: 'AllocateAddress', vmId, nicIndex: i, project },
          meta,
          { now, maxAttempts: 64 },
        ));
      } catch (err) {
        throw err instanceof DomainError ? named(err, i) : err;
      }
      const a = state.allocations.find((x) => x.vmId === vmId && x.nicIndex === i)!;
      const { cidr, prefixLength, gateway, nat, vni } = state;
      nics.push({ networkId, mac: a.mac, ip: a.ip, prefixLength, gateway, cidr, nat, vni });
    }
    return nics;
  } catch (err) {
    await releaseNics(aggregates, vmId, networkIds.slice(0, nics.length + 1), meta, now).catch(() => undefined);
    throw err;
  }
}

/** The create's operation is what the network's events belong to. */
function createMeta(principal: string, operationId: string): CommandMeta {
  return { principal, correlationId: operationId, causationId: `http:${operationId}` };
}

/**
 * After a create that failed to record its VM: the addresses it was allocated go back, unless
 * the VmCreateRequested was recorded after all (the store answered late), whose VM holds them
 * until deleted. Rethrows the create's error.
 */
export async function releaseUnlessRecorded(
  aggregates: AggregateLoader,
  vmId: string,
  networkIds: readonly string[],
  principal: string,
  operationId: string,
  err: unknown,
): Promise<never> {
  if (networkIds.length) {
    const vm = await aggregates.load(vmDecider, vmStream(vmId)).catch(() => undefined);
    // Unknown (the store is down): keep them; an operator sees the allocation naming the VM id.
    if (vm && !vm.state.exists) await releaseNics(aggregates, vmId, networkIds, createMeta(principal, operationId));
  }
  throw err;
}

/** Frees every address the VM holds on these networks; a network where it holds none decides nothing. */
export async function releaseNics(
  aggregates: AggregateLoader,
  vmId: string,
  networkIds: readonly string[],
  meta: CommandMeta,
  now: () => Date = () => new Date(),
): Promise<void> {
  for (const networkId of new Set(networkIds))
    await handleCommand(
      aggregates,
      networkDecider,
      networkStream(networkId),
      { type: 'ReleaseAddresses', vmId },
      meta,
      { now, maxAttempts: 64 },
    );
}
