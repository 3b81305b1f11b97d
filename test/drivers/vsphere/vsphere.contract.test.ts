/** The driver contract (test/drivers/contract-suite.ts) against the vsphere driver, on vcsim (VMware's simulator). */
import { runContract } from '../contract-suite.js';

await runContract('vsphere');
