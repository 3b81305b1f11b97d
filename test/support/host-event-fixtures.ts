/**
 * Host events as specs store them (a registered host and one reservation per VM), and the host
 * commands the command-handler specs decide.
 */
import { randomUUID } from 'node:crypto';
import type { HostCommand } from '../../src/domain/host/host.commands.js';
import type { HostEvent } from '../../src/domain/host/host.events.js';
import type { NewEvent } from '../../src/eventstore/event-store.port.js';

export const registered: Extract<HostEvent, { type: 'HostRegistered' }> = {
  type: 'HostRegistered',
  data: { hostId: 'h1', name: 'h1', driver: 'simulated', uri: 'sim://', capacity: { vcpus: 64, memoryMiB: 65536 } },
};

export const reserved = (vmId: string): HostEvent => ({
  type: 'HostCapacityReserved',
  data: { vmId, operationId: `op-${vmId}`, vcpus: 1, memoryMiB: 512 },
});

export const stored = (e: HostEvent): NewEvent => ({
  id: randomUUID(),
  type: e.type,
  data: { ...e.data },
  metadata: { principal: 'spec', correlationId: 'c', causationId: 'c', at: new Date().toISOString(), schema: 1 },
});

/** A simulated host of 8 vCPUs and `memoryMiB`, named after its id. */
export const registerHost = (hostId: string, memoryMiB = 1024): HostCommand => ({
  type: 'RegisterHost',
  hostId,
  name: hostId,
  driver: 'simulated',
  uri: 'sim://',
  capacity: { vcpus: 8, memoryMiB },
});

/** One vCPU and `memoryMiB` for `vmId`, under the operation `op-<vmId>`. */
export const reserveCapacity = (vmId: string, memoryMiB: number): HostCommand => ({
  type: 'ReserveCapacity',
  vmId,
  operationId: `op-${vmId}`,
  vcpus: 1,
  memoryMiB,
});

export const releaseCapacity = (vmId: string): HostCommand => ({
  type: 'ReleaseCapacity',
  vmId,
  operationId: `op-${vmId}`,
});
