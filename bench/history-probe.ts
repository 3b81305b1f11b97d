import type { Redis } from 'ioredis';
import type { EventStore } from '../src/eventstore/event-store.port.js';

/**
 * What one operation costs, counted rather than timed: wall-clock ratios on a
 * shared 2-core machine swing 0.4×–6×, counts do not. Cumulative counters; the
 * history bench takes a sample before and after its first and last 100 operations
 * and prints the difference per operation.
 */
export interface ProbeSample {
  /** Events returned by `readStream` (command loads, saga state loads): what folding from the start would inflate. */
  streamEvents: number;
  /** `readStream` calls. */
  streamReads: number;
  /** Events returned by `readAll` (subscriptions of sagas and projections, rebuilds). */
  logEvents: number;
  /** Bytes Redis received and sent, and commands it ran (server-wide INFO: the bench's own Redis). */
  redisIn: number;
  redisOut: number;
  redisCommands: number;
  /** CPU time of this process (user + system), µs. */
  cpuMicros: number;
}

/** JSON sizes of the records an operation touches, and how many keys Redis holds. */
export interface RecordSizes {
  hostRecordBytes: number;
  vmRecordBytes: number;
  /** Entries of the global operations index and of the VM's own one. */
  opsIndex: number;
  vmOpsIndex: number;
  vmsIndex: number;
  redisKeys: number;
  /** The host's state as the command path folds it (aggregate cache), JSON bytes. */
  hostStateBytes: number;
  /** Redis keys by shape (ids replaced by `*`): which kind of key grows per operation. */
  keyGroups: Record<string, number>;
}

export interface Probe {
  sample(): Promise<ProbeSample>;
  sizes(hostId: string, vmId: string | undefined): Promise<RecordSizes>;
}

function stat(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : NaN;
}

/** Counts every read of `store` (its methods are wrapped in place: the runtime's loaders and subscriptions share it). */
export function attachProbe(
  store: EventStore,
  redis: Redis,
  keyRoot: string,
  hostState: (hostId: string) => Promise<unknown>,
): Probe {
  const counts = { streamEvents: 0, streamReads: 0, logEvents: 0 };
  const readStream = store.readStream.bind(store);
  const readAll = store.readAll.bind(store);
  store.readStream = async (...args) => {
    const events = await readStream(...args);
    counts.streamReads++;
    counts.streamEvents += events.length;
    return events;
  };
  store.readAll = async (...args) => {
    const events = await readAll(...args);
    counts.logEvents += events.length;
    return events;
  };
  const bytes = async (key: string) => (await redis.strlen(key)) || 0;
  const keyGroups = async () => {
    const groups: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const shape = k.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '*').replace(/:\d+(?=:|$)/g, ':#');
        groups[shape] = (groups[shape] ?? 0) + 1;
      }
    } while (cursor !== '0');
    return groups;
  };
  return {
    async sample() {
      const info = await redis.info('stats');
      const cpu = process.cpuUsage();
      return {
        ...counts,
        redisIn: stat(info, 'total_net_input_bytes'),
        redisOut: stat(info, 'total_net_output_bytes'),
        redisCommands: stat(info, 'total_commands_processed'),
        cpuMicros: cpu.user + cpu.system,
      };
    },
    async sizes(hostId, vmId) {
      return {
        hostRecordBytes: await bytes(`${keyRoot}host:${hostId}`),
        vmRecordBytes: vmId ? await bytes(`${keyRoot}vm:${vmId}`) : 0,
        opsIndex: await redis.zcard(`${keyRoot}ops`),
        vmOpsIndex: vmId ? await redis.zcard(`${keyRoot}ops:vm:${vmId}`) : 0,
        vmsIndex: await redis.zcard(`${keyRoot}vms`),
        redisKeys: await redis.dbsize(),
        hostStateBytes: JSON.stringify(await hostState(hostId)).length,
        keyGroups: await keyGroups(),
      };
    },
  };
}

/** Per-operation cost between two samples. */
export function perOp(a: ProbeSample, b: ProbeSample, ops: number): ProbeSample {
  const d = (k: keyof ProbeSample) => (b[k] - a[k]) / ops;
  return {
    streamEvents: d('streamEvents'),
    streamReads: d('streamReads'),
    logEvents: d('logEvents'),
    redisIn: d('redisIn'),
    redisOut: d('redisOut'),
    redisCommands: d('redisCommands'),
    cpuMicros: d('cpuMicros'),
  };
}

export function formatCost(c: ProbeSample): string {
  return (
    `events read/op: stream ${c.streamEvents.toFixed(1)} (${c.streamReads.toFixed(1)} reads), log ${c.logEvents.toFixed(1)}; ` +
    `redis/op: ${(c.redisIn / 1024).toFixed(1)} KiB in, ${(c.redisOut / 1024).toFixed(1)} KiB out, ${c.redisCommands.toFixed(0)} cmds; ` +
    `CPU ${(c.cpuMicros / 1000).toFixed(1)} ms/op`
  );
}

/** Key shapes whose count changed between two samples, most grown first. */
export function formatKeyGrowth(a: RecordSizes, b: RecordSizes, ops: number): string {
  const shapes = new Set([...Object.keys(a.keyGroups), ...Object.keys(b.keyGroups)]);
  return [...shapes]
    .map((k) => [k, (b.keyGroups[k] ?? 0) - (a.keyGroups[k] ?? 0)] as const)
    .filter(([, d]) => d !== 0)
    .sort((x, y) => y[1] - x[1])
    .map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${(d / ops).toFixed(2)}/op`)
    .join(', ');
}

export function formatSizes(s: RecordSizes): string {
  return (
    `host record ${s.hostRecordBytes} B (state folded ${s.hostStateBytes} B), VM record ${s.vmRecordBytes} B, ` +
    `ops index ${s.opsIndex} (VM's ${s.vmOpsIndex}), vms index ${s.vmsIndex}, redis keys ${s.redisKeys}`
  );
}
