/** The driver contract (test/drivers/contract-suite.ts) against the qemu driver. */
import { runContract } from '../contract-suite.js';

await runContract('qemu');
