/** A repeatable option (`--key a --key b`) collected into a list; kept apart so parsing loads no crypto. */
export function collectKeys(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
