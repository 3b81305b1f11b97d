import { accessSync, constants, readFileSync } from 'node:fs';

/**
 * KVM is used only when /dev/kvm is readable+writable AND the CPU exposes vmx/svm. The second
 * check matters on sandboxed hosts whose /dev/kvm is a paravirtual stand-in (nested PVM): it
 * opens and even runs a firmware-less VM, but a Linux guest hangs right after "Physical KASLR
 * disabled" and `-cpu host` aborts in kvm_buf_set_msrs. TCG is the safe answer there.
 */
export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}
