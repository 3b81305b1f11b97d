import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import { SAFE_NAME } from './safe-name.js';

/**
 * A VM's `image` names something in the host's image catalog: its images directories, given by
 * the host URI (`images=`, default `<storage>/.images`). Whatever it names is resolved with every
 * symlink followed and must lie strictly inside one of them, so a tenant can neither overlay
 * another VM's disk, nor boot a kernel from an arbitrary folder, nor probe the host's files: a
 * path outside the catalog gets one answer whether or not it exists.
 */

/** `kernel:<dir>`: boot `<dir>/vmlinuz` (+ `initrd.gz`, `cmdline`) instead of a base disk. */
export const KERNEL_PREFIX = 'kernel:';
const DEFAULT_APPEND = 'console=ttyS0 quiet panic=-1';

export interface KernelBoot {
  kernel: string;
  initrd?: string;
  append: string;
}

/** The one refusal for anything outside the catalog (the image is echoed, never a fact about it). */
function notInCatalog(image: string): DriverError {
  return new DriverError('invalid', `image ${JSON.stringify(image)} is not in this host's image catalog`);
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function isInside(real: string, roots: readonly string[], orEqual = false): boolean {
  return roots.some((r) => (orEqual && real === r) || real.startsWith(r === sep ? r : `${r}${sep}`));
}

/** The catalog's directories as they really are (symlinks resolved); missing ones drop out. */
function catalogRoots(imageDirs: readonly string[]): string[] {
  return imageDirs.flatMap((d) => {
    const real = isAbsolute(d) ? realOrUndefined(d) : undefined;
    return real ? [real] : [];
  });
}

/**
 * A pure, lexical pre-check the API can run before any event, given a host's image dirs: the
 * reason `image` can never resolve in that catalog, or undefined when it may (the driver still
 * decides with realpath on the host, where symlinks are known).
 */
export function imageRefusal(image: string, imageDirs: readonly string[]): string | undefined {
  const ref = image.startsWith(KERNEL_PREFIX) ? image.slice(KERNEL_PREFIX.length) : image;
  if (ref.includes('\0')) return `image ${JSON.stringify(image)} is not in this host's image catalog`;
  if (!isAbsolute(ref)) return SAFE_NAME.test(ref) ? undefined : `image name ${JSON.stringify(ref)} is not valid`;
  const plain = normalize(ref).replace(/(.)\/+$/, '$1');
  const dirs = imageDirs.map((d) => normalize(d).replace(/(.)\/+$/, '$1'));
  return isInside(plain, dirs) ? undefined : `image ${JSON.stringify(image)} is not in this host's image catalog`;
}

/**
 * `image` (a name looked up in each images dir in turn, or an absolute path) resolved to its
 * real path inside the catalog. A name or path that is inside the catalog but absent is
 * `not_found`; anything else outside it is `invalid`, the same whether or not it exists.
 */
export function resolveInCatalog(image: string, imageDirs: readonly string[], shown = image): string {
  const roots = catalogRoots(imageDirs);
  if (image.includes('\0') || image.includes('\n')) throw notInCatalog(shown);
  let candidates: string[];
  if (isAbsolute(image)) {
    candidates = [normalize(image).replace(/(.)\/+$/, '$1')];
  } else {
    if (!SAFE_NAME.test(image)) throw notInCatalog(shown);
    candidates = imageDirs.filter(isAbsolute).map((d) => join(d, image));
  }
  for (const candidate of candidates) {
    const real = realOrUndefined(candidate);
    if (real !== undefined && isInside(real, roots)) return real;
  }
  // Absent: only a name whose folder really is a catalog dir may say so; a path through a link
  // that leads out, or through a missing folder, answers like any outside path.
  const absentInside = candidates.some((c) => {
    const parent = realOrUndefined(dirname(c));
    return parent !== undefined && isInside(parent, roots, true) && realOrUndefined(c) === undefined;
  });
  if (absentInside) {
    throw new DriverError('not_found', `image ${JSON.stringify(shown)} does not exist in this host's image catalog`);
  }
  throw notInCatalog(shown);
}

/**
 * `spec.image` as a base qcow2 to overlay: a regular file of the catalog, by its real path.
 * QEMU option strings use commas as separators, so a path with one cannot be passed on.
 */
export function resolveBaseImage(image: string | undefined, imageDirs: readonly string[]): string | undefined {
  if (!image) return undefined;
  const real = resolveInCatalog(image, imageDirs);
  if (!statSync(real).isFile()) throw new DriverError('invalid', `image ${JSON.stringify(image)} is not a disk image`);
  if (real.includes(',')) throw new DriverError('invalid', `image path must not contain a comma: ${real}`);
  return real;
}

export function isKernelImage(image: string | undefined): boolean {
  return image?.startsWith(KERNEL_PREFIX) ?? false;
}

/**
 * `image = "kernel:<dir>"` boots `<dir>/vmlinuz` with `<dir>/initrd.gz` (if present) and the
 * command line in `<dir>/cmdline` (default: serial console, quiet, reboot on panic); the VM
 * still gets its own blank qcow2 disk. `<dir>` and each file in it must be in the catalog
 * (a vmlinuz that is a link out of it is refused). scripts/build-guest.sh makes such a dir.
 */
export function kernelBootOf(image: string | undefined, imageDirs: readonly string[]): KernelBoot | undefined {
  if (!image || !isKernelImage(image)) return undefined;
  const ref = image.slice(KERNEL_PREFIX.length);
  const dir = resolveInCatalog(ref, imageDirs, image);
  if (!statSync(dir).isDirectory()) throw new DriverError('invalid', `${image} is not a kernel directory`);
  const roots = catalogRoots(imageDirs);
  const file = (name: string): string | undefined => {
    const path = join(dir, name);
    if (!existsSync(path)) return undefined;
    const real = realOrUndefined(path);
    if (real === undefined || !isInside(real, roots)) throw notInCatalog(`${image}/${name}`);
    if (real.includes(',')) throw new DriverError('invalid', `kernel path must not contain a comma: ${real}`);
    return real;
  };
  const kernel = file('vmlinuz');
  if (!kernel) throw new DriverError('not_found', `no vmlinuz in ${image}`);
  const cmdline = file('cmdline');
  const append = cmdline ? readFileSync(cmdline, 'utf8').trim() : DEFAULT_APPEND;
  return { kernel, initrd: file('initrd.gz'), append };
}
