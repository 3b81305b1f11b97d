import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
