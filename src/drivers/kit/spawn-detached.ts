import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/**
 * Starts a program detached from this process: its own process group and session, stdin
 * closed, stdout and stderr to a log file (truncated), no shell (argv as given), unref'd, so it
 * outlives whoever started it and is found again by pid + cmdline. Returns its pid once it has
 * exec'd; throws when it could not be started.
 */
export function spawnDetached(binary: string, args: string[], logPath: string): number {
  const log = openSync(logPath, 'w');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
    child.on('error', () => undefined); // a spawn failure shows up as an undefined pid here
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot spawn ${binary}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}
