import type { ValidationError } from '@nestjs/common';

export interface FieldError {
  field: string;
  errors: string[];
}

/** class-validator's type rules, and how a person names the type they want. */
const TYPE_RULES: Record<string, { want: string; accepts: (v: unknown) => boolean }> = {
  isInt: { want: 'an integer', accepts: (v) => typeof v === 'number' },
  isNumber: { want: 'a number', accepts: (v) => typeof v === 'number' },
  isString: { want: 'a string', accepts: (v) => typeof v === 'string' },
  isBoolean: { want: 'a boolean', accepts: (v) => typeof v === 'boolean' },
  isArray: { want: 'an array', accepts: (v) => Array.isArray(v) },
  isObject: { want: 'an object', accepts: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) },
  nestedValidation: { want: 'an object', accepts: (v) => typeof v === 'object' && v !== null },
};

/** What the client sent, as a type name: "string", "null", "array", "1.5" for a fractional integer. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return String(value);
  return typeof value;
}

/**
 * One message per field that says what is wrong, not every rule the field has:
 * a missing field "is required"; a value of the wrong type "must be an integer,
 * got string"; otherwise the rules it broke (range, pattern) as class-validator
 * words them.
 */
function messagesFor(field: string, e: ValidationError): string[] {
  const constraints = e.constraints ?? {};
  const rules = Object.keys(constraints);
  if (e.value === undefined && e.property && !rules.includes('whitelistValidation')) return [`${field} is required`];
  for (const rule of rules) {
    const t = TYPE_RULES[rule];
    if (!t) continue;
    const fractional = rule === 'isInt' && typeof e.value === 'number' && !Number.isInteger(e.value);
    if (!t.accepts(e.value) || fractional) return [`${field} must be ${t.want}, got ${describe(e.value)}`];
  }
  return Object.values(constraints);
}

/** Every bad field, nested ones as `parent.child`, each with what is wrong with it. */
export function fieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, errors: messagesFor(field, e) }] : [];
    return [...own, ...fieldErrors(e.children ?? [], field)];
  });
}
