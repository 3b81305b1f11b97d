import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmSpec } from '../hypervisor-driver.port.js';
import { seedNetworkConfig } from './nocloud-network.js';
import { runTool } from './run-tool.js';

/** genisoimage (Debian package genisoimage) writes the ISO 9660 image cloud-init's NoCloud reads. */
const GENISOIMAGE = 'genisoimage';

export function wantsSeed(spec: Pick<VmSpec, 'userData' | 'sshKeys' | 'nics'>): boolean {
  return spec.userData !== undefined || (spec.sshKeys?.length ?? 0) > 0 || (spec.nics?.length ?? 0) > 0;
}

/** NoCloud meta-data: YAML, every value quoted as JSON (a JSON string is a YAML string). */
export function seedMetaData(spec: Pick<VmSpec, 'id' | 'name' | 'sshKeys'>): string {
  const lines = [`instance-id: ${JSON.stringify(spec.id)}`, `local-hostname: ${JSON.stringify(spec.name)}`];
  if (spec.sshKeys?.length) lines.push('public-keys:', ...spec.sshKeys.map((k) => `  - ${JSON.stringify(k)}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Writes `<dir>/seed.iso` (volume label `cidata`, files `user-data` and `meta-data`, and
 * `network-config` when the VM has NICs) for a spec with userData, sshKeys or NICs, once: the spec never changes after create, so an existing seed is
 * the right one. Returns its path, or undefined when the VM has nothing to hand its guest.
 * The content reaches files only (never an argv): genisoimage gets fixed names.
 */
export async function ensureSeed(dir: string, spec: VmSpec, signal?: AbortSignal): Promise<string | undefined> {
  if (!wantsSeed(spec)) return undefined;
  const iso = join(dir, 'seed.iso');
  if (existsSync(iso)) return iso;
  const work = join(dir, `seed.${process.pid}.${Date.now()}`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(join(work, 'user-data'), spec.userData ?? '#cloud-config\n', { mode: 0o600 });
    writeFileSync(join(work, 'meta-data'), seedMetaData(spec), { mode: 0o600 });
    const files = [join(work, 'user-data'), join(work, 'meta-data')];
    if (spec.nics?.length) {
      writeFileSync(join(work, 'network-config'), seedNetworkConfig(spec.nics), { mode: 0o600 });
      files.push(join(work, 'network-config'));
    }
    const part = join(work, 'seed.iso');
    await runTool(GENISOIMAGE, ['-quiet', '-output', part, '-volid', 'cidata', '-joliet', '-rock', ...files], {
      timeoutMs: 60_000,
      ...(signal ? { signal } : {}),
    });
    renameSync(part, iso);
    return iso;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
