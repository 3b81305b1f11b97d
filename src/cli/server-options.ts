import type { Command } from 'commander';

export interface ServerCommandOptions {
  server?: string;
  token?: string;
  json?: boolean;
}

/** The options every command that talks to a server takes, spelled the same everywhere. */
export function withServer(cmd: Command, json = 'machine-readable output'): Command {
  return cmd
    .option('--server <url>', 'server URL (or VIRTLEDGER_URL)')
    .option('--token <token>', 'bearer token (or VIRTLEDGER_TOKEN)')
    .option('--json', json);
}
