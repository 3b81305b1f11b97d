import { execFile } from 'node:child_process';

/** How a run ended other than with status 0. */
export interface RunFailure {
  message: string;
  /** The caller's AbortSignal stopped it. */
  aborted: boolean;
  /** Killed (SIGKILL) at `timeoutMs`. */
  timedOut: boolean;
  /** Its exit status, when it exited (not killed, not missing). */
  exitCode?: number;
}

export interface ToolRun {
  stdout: string;
  stderr: string;
  failure?: RunFailure;
}

export interface ExecToolOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Runs a program to its end without a shell, SIGKILLed at `timeoutMs`; never rejects. */
export function execTool(file: string, args: string[], options: ExecToolOptions): Promise<ToolRun> {
  return new Promise<ToolRun>((resolve) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, signal: options.signal },
      (err, stdout, stderr) => {
        const out = { stdout: String(stdout), stderr: String(stderr) };
        if (!err) {
          resolve(out);
          return;
        }
        const e = err as Error & { killed?: boolean; signal?: string | null; code?: unknown };
        const aborted = e.name === 'AbortError';
        const timedOut = !aborted && e.killed === true && e.signal === 'SIGKILL';
        // execFile's error carries the exit status as a number, and a spawn failure's errno name as a string.
        const exitCode = typeof e.code === 'number' ? { exitCode: e.code } : {};
        resolve({ ...out, failure: { message: e.message, aborted, timedOut, ...exitCode } });
      },
    );
  });
}
