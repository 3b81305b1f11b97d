import { DriverError } from '../hypervisor-driver.port.js';
import { execTool } from './exec-tool.js';
import { spawnHelper } from './spawn-helper.js';

export interface RunToolOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Start the tool from the process's spawn helper (spawn-helper.ts) instead of forking this
   * process: for tools on the path of a VM operation (qemu-img), where the fork of a large
   * process blocks its event loop.
   */
  viaHelper?: boolean;
  /** Exit statuses besides 0 that mean success for this tool (e2fsck's 1: "errors corrected"). */
  okExitCodes?: readonly number[];
}

/**
 * Runs a host tool (qemu-img, …) without a shell, bounded in time. A failure becomes a
 * DriverError carrying the tool's own stderr, which is what an operator needs to read.
 */
export async function runTool(file: string, args: string[], options: RunToolOptions): Promise<string> {
  const command = `${file} ${args.join(' ')}`;
  const exec = { timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) };
  let run;
  try {
    run = options.viaHelper ? await spawnHelper().run(file, args, exec) : await execTool(file, args, exec);
  } catch (err) {
    // Only a helper that died with the request rejects: whether the tool ran is unknown.
    throw new DriverError('failed', `${command}: the spawn helper went away while it ran`, { cause: err });
  }
  const failure = run.failure;
  if (!failure) return run.stdout;
  if (failure.exitCode !== undefined && options.okExitCodes?.includes(failure.exitCode)) return run.stdout;
  if (failure.aborted) throw new DriverError('failed', `${command}: aborted`);
  if (failure.timedOut) throw new DriverError('timeout', `${command}: no result within ${options.timeoutMs} ms`);
  const detail = run.stderr.trim() || failure.message;
  throw new DriverError('failed', `${file} ${args[0] ?? ''}: ${detail}`);
}
