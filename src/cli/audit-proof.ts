import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { EventProof } from '../eventstore/seals/event-proof.js';
import { CliError, getJson, resolveServer } from './client.js';
import { out } from './output.js';
import { collectKeys } from './repeat-option.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

interface ProofOptions extends ServerCommandOptions {
  position?: string;
  out?: string;
  key?: string[];
  witness?: string;
}

/**
 * `audit proof --position <p> [--out f]` fetches one event's inclusion proof from a
 * server; `audit proof <f> --key <pub> [--witness w]` checks it offline: the event's
 * content, its path to the seal's root, the seal's signature (and that the witness
 * has that very seal). A third party needs only the file and the public key.
 */
export function registerAuditProof(audit: Command): void {
  withServer(
    audit
      .command('proof')
      .description("fetch one event's inclusion proof (--position), or check one offline (<file> --key)")
      .argument('[file]', 'a proof from GET /v1/audit/proof or `virtledger audit proof --position`')
      .option('--position <p>', 'fetch the proof of the event at this log position (server mode)')
      .option('--out <file>', 'write the fetched proof here instead of stdout')
      .option('--key <pub>', 'public key the seal must be signed with (file or base64)', collectKeys)
      .option('--witness <file>', "the seal witness: the proof's seal must be in it"),
  ).action(async (file: string | undefined, opts: ProofOptions) => {
    if (opts.position !== undefined) {
      if (file !== undefined) throw new CliError('give either a proof file to check or --position to fetch one');
      if (!/^\d{1,20}$/.test(opts.position)) throw new CliError('--position must be a log position');
      const proof = await getJson<EventProof>(resolveServer(opts), `/v1/audit/proof?position=${opts.position}`);
      const text = JSON.stringify(proof, null, 2) + '\n';
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
      return;
    }
    if (file === undefined) throw new CliError('give a proof file to check (with --key), or --position to fetch one');
    if (!opts.key) throw new CliError('--key is required: a proof is only as good as the seal signature');
    let proof: EventProof;
    try {
      proof = JSON.parse(readFileSync(file, 'utf8')) as EventProof;
    } catch (err) {
      throw new CliError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const { readKeyArg, readWitnessArg } = await import('./seal-args.js');
    const { sealHash } = await import('../eventstore/seals/seal.js');
    const { checkEventProof } = await import('../eventstore/seals/event-proof.js');
    const witness = opts.witness ? readWitnessArg(opts.witness) : undefined;
    const pinned = witness?.find((w) => w.sequence === proof.seal?.sequence);
    if (witness && (!pinned || sealHash(pinned) !== sealHash(proof.seal)))
      return fail(opts, `seal ${proof.seal?.sequence} is not in the witness as given`);
    const verdict = checkEventProof(proof, opts.key.map(readKeyArg), pinned);
    if (!verdict.ok) return fail(opts, verdict.reason);
    const e = proof.event;
    if (opts.json)
      out(
        JSON.stringify({
          ok: true,
          streamId: e.streamId,
          revision: e.revision,
          id: e.id,
          leafIndex: proof.leafIndex,
          seal: proof.seal.sequence,
        }),
      );
    else
      out(
        `proof OK: ${e.streamId} revision ${e.revision} (${e.type}, ${e.id}) is event ${proof.leafIndex} of the ` +
          `${proof.seal.count} sealed by seal #${proof.seal.sequence} (root ${proof.seal.root}), signed by key ${proof.seal.keyId.slice(0, 16)}`,
      );
  });
}

function fail(opts: ProofOptions, reason: string): void {
  out(opts.json ? JSON.stringify({ ok: false, reason }) : `PROOF FAILS: ${reason}`);
  process.exitCode = 1;
}
