import type { Redis } from 'ioredis';

/** The redis-server's CPU time so far (user + system, every thread), ms: INFO cpu, so server-wide. */
export async function redisServerCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return 1000 * (seconds('used_cpu_user') + seconds('used_cpu_sys'));
}
