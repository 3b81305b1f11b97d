import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname } from 'node:path';
import type { ContainerPaths } from './container-files.js';
import { DriverError } from '../hypervisor-driver.port.js';

export interface TarTarget {
  host: string;
  port: number;
  token: string;
}

/**
 * The source side of a TCP cold migration (the receiver is tar-receiver.ts): streams
 * spec.json, snapshots/ and the root filesystem of a VM as one tar and resolves only on the target's
 * `OK`, i.e. after the target has unpacked all of it.
 */
export function sendTar(
  target: TarTarget,
  paths: ContainerPaths,
  wasRunning: boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const vmDir = paths.vmDir;
  // The root filesystem goes as plain files (`rootfs/`, from inside the mounted disk): the target
  // puts it in a disk image of its own.
  const entries = [
    'spec.json',
    ...(existsSync(paths.snapshots) ? ['snapshots'] : []),
    '-C',
    dirname(paths.rootfs),
    basename(paths.rootfs),
  ];
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let reply = '';
    let tarError = '';
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const tar = spawn('tar', ['-c', '-p', '--numeric-owner', '-f', '-', '-C', vmDir, ...entries], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const finish = (err?: DriverError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        tar.kill('SIGKILL');
        socket.destroy();
        reject(err);
      } else {
        resolve();
      }
    };
    const timer = setTimeout(
      () => finish(new DriverError('timeout', `sending the root filesystem took over ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => finish(new DriverError('failed', 'migration aborted'));
    signal?.addEventListener('abort', onAbort);

    tar.stderr.on('data', (d: Buffer) => (tarError += d.toString()));
    tar.on('close', (code) => {
      if (code !== 0) finish(new DriverError('failed', `tar -c of ${vmDir}: ${tarError.trim() || code}`));
    });
    socket.once('connect', () => {
      socket.write(`${target.token}\n${JSON.stringify({ wasRunning })}\n`);
      tar.stdout.pipe(socket);
    });
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.once('end', () => {
      const line = reply.trim();
      if (line === 'OK') finish();
      else
        finish(
          new DriverError('failed', `target ${target.host}:${target.port} refused the copy: ${line || 'no answer'}`),
        );
    });
    socket.once('error', (err) => {
      // A target that refused (bad token, busy) answers ERR and closes while tar still writes.
      const line = reply.trim();
      const why = line.startsWith('ERR') ? `refused the copy: ${line}` : err.message;
      finish(new DriverError('failed', `target ${target.host}:${target.port}: ${why}`, { cause: err }));
    });
  });
}
