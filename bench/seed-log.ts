/**
 * A large log written straight into a store (no HTTP, no sagas), for the replay
 * figures: rebuilds on a 6.4k-event log measure fixed costs, not the fold.
 * `hosts` hosts; VMs created with a capacity reservation on their host's stream,
 * placed, defined, started, then stopped and started over and over, one in
 * eight deleted (releasing its reservation). VMs' lives are appended in rounds
 * of a few events each, so the log interleaves streams as a busy fleet's does.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore, NewEvent } from '../src/eventstore/event-store.port.js';
import { pool } from './stats.js';

const HOSTS = 20;
const PER_VM = 48;
const ROUND = 8;
const T0 = Date.parse('2030-01-01T00:00:00Z');

function ev(type: string, data: Record<string, unknown>, at: number): NewEvent {
  const id = randomUUID();
  return {
    id,
    type,
    data,
    metadata: {
      principal: 'user:bench',
      correlationId: id,
      causationId: id,
      at: new Date(at).toISOString(),
      schema: 1,
    },
  };
}

interface Life {
  vm: NewEvent[];
  host: NewEvent[][];
}

/** One VM's events, cut in rounds; the host events go with the round whose VM event caused them. */
function vmLife(i: number, t: number): Life {
  const vmId = `seed-${i}`;
  const hostId = `h${i % HOSTS}`;
  const op = (k: string) => `${vmId}-${k}`;
  const spec = { name: `vm${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  const vm = [
    ev(
      'VmCreateRequested',
      { vmId, operationId: op('c'), spec, requestedHostId: null, start: true, project: 'default' },
      (t += 1000),
    ),
    ev('VmPlaced', { operationId: op('c'), hostId }, (t += 1000)),
    ev('VmDefined', { operationId: op('c'), hostId }, (t += 1000)),
    ev('VmStarted', { operationId: op('c') }, (t += 1000)),
  ];
  const deleted = i % 8 === 7;
  const cycles = deleted ? PER_VM - 8 : PER_VM;
  for (let k = 0; vm.length < cycles; k++) {
    vm.push(ev('VmStopRequested', { operationId: op(`s${k}`), force: false }, (t += 1000)));
    vm.push(ev('VmStopped', { operationId: op(`s${k}`) }, (t += 1000)));
    vm.push(ev('VmStartRequested', { operationId: op(`r${k}`) }, (t += 1000)));
    vm.push(ev('VmStarted', { operationId: op(`r${k}`) }, (t += 1000)));
  }
  if (deleted) {
    vm.push(ev('VmStopRequested', { operationId: op('s-last'), force: true }, (t += 1000)));
    vm.push(ev('VmStopped', { operationId: op('s-last') }, (t += 1000)));
    vm.push(ev('VmDeleteRequested', { operationId: op('d') }, (t += 1000)));
    vm.push(ev('VmDeleted', { operationId: op('d') }, (t += 1000)));
  }
  const host: NewEvent[][] = vm.map(() => []);
  host[0]!.push(ev('HostCapacityReserved', { vmId, operationId: op('c'), vcpus: 1, memoryMiB: 64, diskGiB: 1 }, t));
  if (deleted) host[vm.length - 1]!.push(ev('HostCapacityReleased', { vmId, operationId: op('d') }, t));
  return { vm, host };
}

/** Appends about `n` events; returns how many were written. */
export async function seedLog(store: EventStore, n: number, concurrency = 16): Promise<number> {
  const capacity = { vcpus: 1_000_000, memoryMiB: 1 << 30 };
  let written = 0;
  for (let h = 0; h < HOSTS; h++) {
    const data = { hostId: `h${h}`, name: `h${h}`, driver: 'simulated', uri: 'simulated://', capacity };
    await store.append(`host-h${h}`, [ev('HostRegistered', data, T0)], 'no_stream');
    written++;
  }
  const vms = Math.max(1, Math.ceil((n - HOSTS) / (PER_VM + 1.25)));
  const lives = Array.from({ length: vms }, (_, i) => vmLife(i, T0 + i * 1000));
  for (let from = 0; from < PER_VM; from += ROUND) {
    await pool(vms, concurrency, async (i) => {
      const life = lives[i]!;
      const chunk = life.vm.slice(from, from + ROUND);
      if (chunk.length === 0) return;
      await store.append(`vm-seed-${i}`, chunk, from === 0 ? 'no_stream' : BigInt(from - 1));
      written += chunk.length;
      const hostEvents = life.host.slice(from, from + ROUND).flat();
      if (hostEvents.length) {
        await store.append(`host-h${i % HOSTS}`, hostEvents, 'any');
        written += hostEvents.length;
      }
    });
  }
  return written;
}
