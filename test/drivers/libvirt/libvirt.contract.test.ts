/** The driver contract (test/drivers/contract-suite.ts) against the libvirt driver. */
import { runContract } from '../contract-suite.js';

await runContract('libvirt');
