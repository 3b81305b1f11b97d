import { execFile } from 'node:child_process';
import { DriverError } from '../hypervisor-driver.port.js';

export interface VirshOptions {
  /** A virsh call can hang (a wedged libvirtd, a stuck save): every call is bounded. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The virsh binary (default `virsh`, or $VL_VIRSH). */
  binary?: string;
}

export const VIRSH = process.env.VL_VIRSH ?? 'virsh';

/** libvirt's "no such object" messages: the caller decides whether absent is fine (idempotent verbs). */
const NOT_FOUND =
  /failed to get domain|Domain not found|no domain with matching|Domain snapshot not found|snapshot not found|no domain snapshot with matching/i;

/**
 * Runs `virsh -q -c <uri> <args>` without a shell. A failure becomes a DriverError carrying
 * virsh's own `error:` lines (what an operator needs to read); a missing object is `not_found`,
 * an overrun deadline is `timeout` (the child is SIGKILLed).
 */
export function virsh(uri: string, args: string[], options: VirshOptions): Promise<string> {
  const argv = ['-q', '-c', uri, ...args];
  return new Promise<string>((resolve, reject) => {
    execFile(
      options.binary ?? VIRSH,
      argv,
      {
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        signal: options.signal,
        // A C locale keeps virsh's table headers and state words stable for the parsers.
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        const what = `virsh ${args[0] ?? ''}`.trim();
        if (e.name === 'AbortError') {
          reject(new DriverError('failed', `${what} on ${uri}: aborted`, { cause: err }));
        } else if (e.killed && e.signal === 'SIGKILL') {
          reject(
            new DriverError('timeout', `${what} on ${uri}: no answer within ${options.timeoutMs} ms`, { cause: err }),
          );
        } else if (e.code === 'ENOENT') {
          reject(
            new DriverError('failed', `${options.binary ?? VIRSH} is not installed (libvirt-clients)`, { cause: err }),
          );
        } else {
          const detail = errorLines(String(stderr)) || e.message;
          const code = NOT_FOUND.test(detail) ? 'not_found' : 'failed';
          reject(new DriverError(code, `${what}: ${detail}`, { cause: err }));
        }
      },
    );
  });
}

/** virsh prints `error: …` lines (often two: the verb's and libvirt's reason); keep them on one line. */
function errorLines(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim().replace(/^error:\s*/, ''))
    .filter(Boolean)
    .join(': ');
}

/** True for a DriverError that only says the object is not there. */
export function isNotFound(err: unknown): boolean {
  return err instanceof DriverError && err.code === 'not_found';
}

/** True for libvirt's "operation is not valid" answers (destroy of a stopped domain, …). */
export function isInvalidState(err: unknown): boolean {
  return err instanceof DriverError && /Requested operation is not valid|is not running|not active/i.test(err.message);
}
