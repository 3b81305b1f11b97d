import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../test/support/wait.js';

/** dist/src/main.js, seen from dist/chaos/support/. */
export const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

export interface NodeProcOptions {
  /** For log file names and messages. */
  name: string;
  env: Record<string, string>;
  args?: string[];
  /** Flags for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** stdout and stderr are appended here (read it when a scenario fails). */
  logFile: string;
}

/** One `node dist/src/main.js` process of a scenario: started, killed with -9 or stopped with SIGTERM. */
export class NodeProc {
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> = Promise.resolve(null);
  starts = 0;
  /** Exits nobody asked for (a crash), with their exit code or signal. */
  readonly crashes: string[] = [];
  private expectExit = false;
  /** Where this start's output begins in the log file (earlier starts wrote before it). */
  private logOffset = 0;

  constructor(readonly opts: NodeProcOptions) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(extraEnv: Record<string, string> = {}): void {
    if (this.running) throw new Error(`${this.opts.name} already running`);
    const fd = openSync(this.opts.logFile, 'a');
    this.logOffset = statSync(this.opts.logFile).size;
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), MAIN, ...(this.opts.args ?? [])], {
      env: { PATH: process.env.PATH ?? '', ...this.opts.env, ...extraEnv },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.starts++;
    this.expectExit = false;
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.expectExit) this.crashes.push(`${this.opts.name} exited by itself (${code ?? signal})`);
        resolve(code);
      }),
    );
  }

  /**
   * Resolves once this start of the process has printed `text` (e.g. main.ts's "virtledger worker
   * running"); rejects when the process exits first or after `timeoutMs`.
   */
  async printed(text: string, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      () => {
        if (!this.running) throw new Error(`${this.opts.name} exited before it printed "${text}"`);
        return this.outputSinceStart().includes(text);
      },
      { what: `${this.opts.name} to print "${text}"`, timeoutMs, intervalMs: 50 },
    );
  }

  private outputSinceStart(): string {
    const fd = openSync(this.opts.logFile, 'r');
    try {
      const length = statSync(this.opts.logFile).size - this.logOffset;
      const buf = Buffer.alloc(Math.max(0, length));
      readSync(fd, buf, 0, buf.length, this.logOffset);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  /** The fault itself: no drain, no cleanup, no flush. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.expectExit = true;
    this.child!.kill('SIGKILL');
    await this.exit;
  }

  /** Orderly stop (SIGTERM drains), SIGKILL if it takes longer than graceMs. */
  async stop(graceMs = 10000): Promise<void> {
    if (!this.running) return;
    this.expectExit = true;
    this.child!.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(t);
  }

  /** A death the scenario provoked itself (a fault point): not a crash. */
  expectDeath(): void {
    this.expectExit = true;
  }

  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null> {
    return this.exit;
  }
}
