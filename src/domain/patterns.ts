/**
 * Names reach file paths, QMP, virsh and process names: one strict pattern,
 * no spaces, no slashes, no leading dot or dash.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const NAME_RULE = 'must be 1-63 characters of letters, digits, ".", "_" or "-", starting with a letter or digit';
/** Ids we generate are uuids; ids clients choose follow the name pattern. */
export const ID_PATTERN = NAME_PATTERN;
/** Image: a name or an absolute path of safe segments (no ".."), or `kernel:<absolute dir>` to boot a kernel + initrd. */
const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]{0,127}';
export const IMAGE_PATTERN = new RegExp(`^(?:(?:kernel:)?(?:/${SEGMENT}){1,16}|${SEGMENT}(?:/${SEGMENT}){0,15})$`);
export const IMAGE_RULE =
  'must be an image name, an absolute path, or kernel:<absolute dir>, of letters, digits, ".", "_" and "-" segments (no "..")';
/** Project names: the name pattern, lower-case only, so two projects never differ by case alone. */
export const PROJECT_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const PROJECT_RULE =
  'must be 1-63 characters of lower-case letters, digits, ".", "_" or "-", starting with a letter or digit';

/** User data handed to a guest: bounded so the log and the seed stay small (cloud providers cap it near 16 KiB). */
export const USER_DATA_MAX = 16384;
/** One OpenSSH public key line: a known type, base64 of the key, an optional comment without line breaks. */
export const SSH_KEY_PATTERN =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]{16,8192}={0,3}( [^\r\n\0]{0,256})?$/;
export const SSH_KEY_RULE = 'must be one OpenSSH public key line: "<type> <base64> [comment]"';

/** The key blob of an OpenSSH public key names its own type first: a pasted key that lies about it is refused. */
export function sshKeyProblem(line: string, decode: (b64: string) => Uint8Array): string | undefined {
  const [type, b64] = line.split(' ');
  const blob = decode(b64!);
  if (blob.length < 4) return 'its key data is too short';
  const len = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
  const named = String.fromCharCode(...blob.slice(4, 4 + len));
  return named === type ? undefined : `its key data is a ${JSON.stringify(named)} key, not ${type}`;
}
