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
