/**
 * `virtledger completion bash`: a completion script generated from the
 * program itself, so it never lists a command that does not exist.
 * Install: `source <(virtledger completion bash)`.
 */
import type { Command } from 'commander';
import { CliError } from './client.js';
import { out } from './output.js';

function words(cmd: Command): string[] {
  return [...cmd.commands.map((c) => c.name()), ...cmd.options.map((o) => o.long ?? o.short ?? '').filter(Boolean)];
}

export function bashCompletion(program: Command): string {
  const cases: string[] = [];
  const walk = (cmd: Command, path: string) => {
    cases.push(`    "${path}") opts="${words(cmd).join(' ')}" ;;`);
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, '');
  return `# bash completion for virtledger: source <(virtledger completion bash)
_virtledger() {
  local cur path word opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) path="\${path:+$path }$word" ;; esac
  done
  case "$path" in
${cases.join('\n')}
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
complete -F _virtledger virtledger
`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash)')
    .argument('<shell>', 'bash')
    .action((shell: string) => {
      if (shell !== 'bash') throw new CliError(`completion: only bash is supported, got "${shell}"`);
      out(bashCompletion(program));
    });
}
