/**
 * A second "host" for overlay tests: this process runs inside its own network namespace
 * (`ip netns exec`), owns a QemuDriver there (its QEMUs, taps, bridges and dnsmasq live in that
 * namespace) and serves driver calls from the test over the IPC channel.
 */
import { QemuDriver } from '../../../src/drivers/qemu/qemu.driver.js';
import type { HostBinding } from '../../../src/drivers/hypervisor-driver.port.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

const binding = JSON.parse(process.argv[2] ?? '{}') as HostBinding;
const driver = new QemuDriver(binding);
const methods = driver as unknown as Record<string, (...args: unknown[]) => unknown>;

process.on('message', (message: Call) => {
  void (async () => {
    try {
      const fn = methods[message.method];
      if (typeof fn !== 'function') throw new Error(`no driver method ${message.method}`);
      const value = await fn.apply(driver, message.args);
      process.send?.({ id: message.id, ok: true, value: value ?? null });
    } catch (err) {
      process.send?.({ id: message.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => {
  void driver.close().then(() => process.exit(0));
});
process.send?.({ id: 0, ok: true, value: 'ready' });
