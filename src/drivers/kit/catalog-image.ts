import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DriverError } from '../hypervisor-driver.port.js';
import { runTool } from './run-tool.js';
import { SAFE_NAME } from './safe-name.js';

/** A catalog image as a job names it (domain CatalogImageRef, restated: drivers import nothing above). */
export interface CatalogImage {
  name: string;
  format: 'qcow2' | 'raw' | 'kernel' | 'rootfs';
  sha256: string;
}

/** Where the control plane keeps an upload's bytes: `<catalogDir>/<name>/<sha256>` (content-addressed). */
export function catalogFile(catalogDir: string, name: string, sha256: string): string {
  return join(catalogDir, name, sha256);
}

const TOOL_MS = 30 * 60_000;

function checkRef(ref: CatalogImage): void {
  if (!SAFE_NAME.test(ref.name))
    throw new DriverError('invalid', `catalog image name ${JSON.stringify(ref.name)} is not valid`);
  if (!/^[0-9a-f]{64}$/.test(ref.sha256))
    throw new DriverError('invalid', `catalog image ${ref.name}: sha256 is not 64 hex digits`);
  if (!['qcow2', 'raw', 'kernel', 'rootfs'].includes(ref.format))
    throw new DriverError('invalid', `catalog image ${ref.name}: unknown format ${String(ref.format)}`);
}

/** Copies `from` to `to`, hashing what was read; refuses (and removes the copy) when it is not `sha256`. */
async function copyVerified(from: string, to: string, ref: CatalogImage, signal?: AbortSignal): Promise<void> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), tap, createWriteStream(to, { mode: 0o600 }), { signal });
  const got = hash.digest('hex');
  if (got !== ref.sha256) {
    await rm(to, { force: true });
    // No retry can make other bytes right: refused at once.
    throw new DriverError(
      'invalid',
      `catalog image ${ref.name}: the bytes found have sha256 ${got}, the catalog recorded ${ref.sha256}; not used`,
    );
  }
}

/**
 * Makes a catalog image usable by this host's driver and returns the `image` value the driver
 * takes: a verified copy inside the host's images dir (so the driver's own confinement applies),
 * named after the name and the sha256 so a replaced image never shadows an older VM's base.
 * qcow2 is copied; raw is converted to qcow2 (drivers overlay qcow2 bases); a kernel bundle is
 * unpacked to `kernel:<dir>`; a rootfs to a directory. The first time only: a finished copy is
 * reused (it was checked when made, and lives where only root writes).
 */
export async function materializeCatalogImage(
  ref: CatalogImage,
  catalogDir: string,
  imagesDir: string,
  signal?: AbortSignal,
): Promise<string> {
  checkRef(ref);
  const base = join(imagesDir, `${ref.name}.${ref.sha256.slice(0, 16)}`);
  const final = ref.format === 'qcow2' || ref.format === 'raw' ? `${base}.qcow2` : base;
  const asImage = ref.format === 'kernel' ? `kernel:${final}` : final;
  if (existsSync(final)) return asImage;
  const source = catalogFile(catalogDir, ref.name, ref.sha256);
  try {
    await stat(source);
  } catch {
    throw new DriverError(
      'not_found',
      `catalog image ${ref.name} (sha256 ${ref.sha256}) is not in ${catalogDir} on this host: share the catalog dir (IMAGE_CATALOG_DIR) with the worker`,
    );
  }
  await mkdir(imagesDir, { recursive: true, mode: 0o700 });
  const stage = join(imagesDir, `.fetch-${randomUUID()}`);
  const copy = `${stage}.bytes`;
  try {
    await copyVerified(source, copy, ref, signal);
    switch (ref.format) {
      case 'qcow2':
        await rename(copy, stage);
        break;
      case 'raw':
        await runTool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', copy, stage], {
          timeoutMs: TOOL_MS,
          ...(signal ? { signal } : {}),
        });
        break;
      case 'kernel':
      case 'rootfs':
        // The API refused members outside the root and device nodes; tar (GNU) strips leading
        // "/" and ".." itself as well. Nothing keeps the uploader's owner or modes.
        await mkdir(stage, { mode: 0o700 });
        await runTool('tar', ['-x', '-f', copy, '-C', stage, '--no-same-owner', '--no-same-permissions'], {
          timeoutMs: TOOL_MS,
          ...(signal ? { signal } : {}),
        });
        break;
    }
    await rename(stage, final);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    // Another job made it meanwhile: theirs is as good as ours.
    if (existsSync(final)) return asImage;
    throw err;
  } finally {
    await rm(copy, { force: true });
  }
  return asImage;
}
