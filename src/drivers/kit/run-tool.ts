import { execFile } from 'node:child_process';
import { DriverError } from '../hypervisor-driver.port.js';

export interface RunToolOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Runs a host tool (qemu-img, …) without a shell, bounded in time. A failure becomes a
 * DriverError carrying the tool's own stderr, which is what an operator needs to read.
 */
export function runTool(file: string, args: string[], options: RunToolOptions): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, signal: options.signal },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        const command = `${file} ${args.join(' ')}`;
        if (e.name === 'AbortError') {
          reject(new DriverError('failed', `${command}: aborted`, { cause: err }));
        } else if (e.killed && e.signal === 'SIGKILL') {
          reject(new DriverError('timeout', `${command}: no result within ${options.timeoutMs} ms`, { cause: err }));
        } else {
          const detail = String(stderr).trim() || e.message;
          reject(new DriverError('failed', `${file} ${args[0] ?? ''}: ${detail}`, { cause: err }));
        }
      },
    );
  });
}
