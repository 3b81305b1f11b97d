import type { DriverNic } from '../hypervisor-driver.port.js';

/**
 * NoCloud `network-config` (netplan-style version 2) for a VM's NICs: each interface found by
 * the MAC the control plane allocated, renamed eth<i>, with its static address; the default
 * route goes through the first NIC's gateway only (two default routes would fight). Every
 * value is quoted as JSON (a JSON string is a YAML string), so nothing can add YAML keys.
 */
export function seedNetworkConfig(nics: readonly DriverNic[]): string {
  const q = JSON.stringify;
  const lines = ['version: 2', 'ethernets:'];
  for (const [i, nic] of nics.entries()) {
    lines.push(
      `  nic${i}:`,
      '    match:',
      `      macaddress: ${q(nic.mac)}`,
      `    set-name: ${q(`eth${i}`)}`,
      '    addresses:',
      `      - ${q(`${nic.ip}/${nic.prefixLength}`)}`,
    );
    if (i === 0) lines.push('    routes:', `      - to: ${q('0.0.0.0/0')}`, `        via: ${q(nic.gateway)}`);
  }
  return `${lines.join('\n')}\n`;
}
