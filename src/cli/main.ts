#!/usr/bin/env node
/**
 * virtledger CLI: daily work (hosts, VMs, volumes, networks, placement groups,
 * operations, snapshots, images, projects, queues, health) and the auditors'
 * tools. Every route of the v1 API has a command (test/api/cli-coverage.test.ts
 * keeps it so). This file only wires them.
 * Exit codes: 0 ok, 1 the chain is broken or an operation followed with
 * --wait failed, 2 usage/connection/auth/refused value/conflict, 3 not found
 * (unknown id, or no such revision or instant).
 */
import { Command, CommanderError } from 'commander';
import { registerAuditExport } from './audit-export.js';
import { registerAuditLog } from './audit-log.js';
import { registerAuditVerify } from './audit-verify.js';
import { registerAuditProof } from './audit-proof.js';
import {
  registerFleetCommand,
  registerImageCommands,
  registerOpCommands,
  registerProjectCommands,
  registerSnapshotCommands,
} from './catalog-commands.js';
import { CliError } from './client.js';
import { registerCompletion } from './completion.js';
import { registerHealthCommand } from './health-command.js';
import { registerHostCommands } from './host-commands.js';
import { registerNetworkCommands } from './network-commands.js';
import { registerPlacementGroupCommands } from './placement-group-commands.js';
import { registerQueueCommands } from './queue-commands.js';
import { registerImportCommand } from './import-export.js';
import { quietOnClosedPipe } from './output.js';
import { registerImageImport } from './image-import.js';
import { registerAuditChecks, registerHostDomains, registerProjectionCommands } from './maintenance-commands.js';
import { registerVmCommands } from './vm-commands.js';
import { registerVmConsole } from './vm-console.js';
import { registerVmDiff } from './vm-diff.js';
import { registerVmHistory } from './vm-history.js';
import { registerVmState } from './vm-state.js';
import { registerVmVolumeCommands, registerVolumeCommands } from './volume-commands.js';

export function buildProgram(): Command {
  const program = new Command('virtledger')
    .description(
      'virtledger command line: hosts, VMs, volumes, networks, placement groups, operations, snapshots, images, projects, queues and the audit tools over the v1 API',
    )
    .exitOverride();

  registerHostCommands(program);
  registerHostDomains(program.commands.find((c) => c.name() === 'host')!);

  const audit = program.command('audit').description('auditor tools: the log and its hash chain');
  registerAuditVerify(audit);
  registerAuditProof(audit);
  registerAuditLog(audit);
  registerAuditExport(audit);
  registerImportCommand(audit);
  registerAuditChecks(audit);

  const vm = program
    .command('vm')
    .description('VMs: list, create, start/stop, migrate, resize, attach/detach volumes, why, state/history/diff');
  registerVmCommands(vm);
  registerVmState(vm);
  registerVmHistory(vm);
  registerVmDiff(vm);
  registerVmConsole(vm);
  registerVmVolumeCommands(vm);

  const image = program.command('image').description('the image catalog');
  registerImageImport(image);
  registerImageCommands(image);

  registerOpCommands(program);
  registerSnapshotCommands(program);
  registerProjectCommands(program);
  registerNetworkCommands(program);
  registerVolumeCommands(program);
  registerPlacementGroupCommands(program);
  registerFleetCommand(program);
  registerQueueCommands(program);
  registerProjectionCommands(program);
  registerHealthCommand(program);
  registerCompletion(program);

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // Commander has already printed its own message (unknown option, missing argument, --help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`virtledger: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`virtledger: ${(err as Error).stack ?? String(err)}\n`);
    return 2;
  }
}

quietOnClosedPipe();
process.exitCode = await main(process.argv);
