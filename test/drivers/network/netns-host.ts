import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { run } from './network-test-env.js';

/**
 * A network namespace standing for a second machine, joined to this one by a veth pair (the
 * underlay, on addresses the test made), with a QemuDriver process inside it.
 */
export class NetnsHost {
  readonly netns: string;
  /** Underlay device and address on this (root) side and inside the namespace. */
  readonly outerDev: string;
  readonly innerDev: string;
  readonly outerIp: string;
  readonly innerIp: string;
  private child?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';

  constructor() {
    const r = randomBytes(2);
    const tag = r.toString('hex');
    this.netns = `vlhost-${tag}`;
    this.outerDev = `vlua-${tag}`;
    this.innerDev = `vlub-${tag}`;
    const subnet = `172.31.${r[0] ?? 0}`;
    this.outerIp = `${subnet}.1`;
    this.innerIp = `${subnet}.2`;
  }

  /** Makes the namespace and the underlay. */
  create(): void {
    run('ip', ['netns', 'add', this.netns]);
    run('ip', ['link', 'add', this.outerDev, 'type', 'veth', 'peer', 'name', this.innerDev]);
    run('ip', ['link', 'set', this.innerDev, 'netns', this.netns]);
    run('ip', ['addr', 'add', `${this.outerIp}/24`, 'dev', this.outerDev]);
    run('ip', ['link', 'set', this.outerDev, 'up']);
    run('ip', ['link', 'set', 'lo', 'up'], this.netns);
    run('ip', ['addr', 'add', `${this.innerIp}/24`, 'dev', this.innerDev], this.netns);
    run('ip', ['link', 'set', this.innerDev, 'up'], this.netns);
  }

  /** Starts the driver process inside the namespace; its overlay runs over the inner underlay device. */
  async boot(
    binding: { id: string; uri: string; storageDir: string },
    env: Record<string, string> = {},
  ): Promise<void> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'netns-host-child.js');
    const child = spawn(
      'ip',
      ['netns', 'exec', this.netns, process.execPath, script, JSON.stringify({ ...binding, driver: 'qemu' })],
      {
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
        env: { ...process.env, NETWORK_UNDERLAY_DEV: this.innerDev, ...env },
      },
    );
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`netns host exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
    await new Promise<void>((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const child = this.child;
    if (!child) throw new Error('netns host not started');
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      child.send({ id, method, args });
    });
  }

  define(spec: VmSpec): Promise<void> {
    return this.call('define', spec);
  }

  start(spec: VmSpec): Promise<void> {
    return this.call('start', spec);
  }

  async stopHost(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.disconnect();
    await exited;
  }

  /** Removes the namespace (and with it every link left inside) and the outer underlay end. */
  destroy(): void {
    try {
      run('ip', ['netns', 'del', this.netns]);
    } catch {
      // already gone
    }
    try {
      run('ip', ['link', 'del', this.outerDev]);
    } catch {
      // went with the namespace's peer
    }
  }
}
