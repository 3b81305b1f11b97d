import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** The built CLI, exactly as the package's bin runs it. */
export const CLI = join(process.cwd(), 'dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in a child process with VIRTLEDGER_URL/TOKEN cleared unless
 * `env` sets them. With `stdoutFile`, stdout goes straight to that file (as a
 * shell redirect would) and `stdout` comes back empty; with `stdoutClosed` the
 * reading end of stdout is closed at once.
 */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; stdoutFile?: string; stdoutClosed?: boolean } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.VIRTLEDGER_TOKEN;
    delete env.VIRTLEDGER_URL;
    const fd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : undefined;
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...env, ...opts.env },
      stdio: ['ignore', fd ?? 'pipe', 'pipe'],
    });
    // As `| head` does once it has its lines: the reader goes away and every write gets EPIPE.
    if (opts.stdoutClosed) p.stdout?.destroy();
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (fd !== undefined) closeSync(fd);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
