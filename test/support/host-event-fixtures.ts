/** Host events as specs store them: a registered host and one reservation per VM. */
import { randomUUID } from 'node:crypto';
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
