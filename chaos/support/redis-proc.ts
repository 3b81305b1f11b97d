import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/runtime/free-port.js';
import { waitForRedis } from '../../src/runtime/wait-for-redis.js';

/**
 * A redis-server of the scenario's own on a fixed port, without persistence:
 * stopping it and starting it again is an outage followed by an empty Redis,
 * which is what the Redis fault needs. The machine's Redis is never touched.
 */
export class RedisProc {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisProc> {
    const r = new RedisProc(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitForRedis(
      this.url,
      10000,
      () => (child.exitCode !== null ? `redis-server on ${this.port} exited (${child.exitCode})` : undefined),
      () => `redis-server on ${this.port} did not answer`,
    );
  }

  /** SIGKILL: the data goes with it (no persistence configured). */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exit;
  }
}
