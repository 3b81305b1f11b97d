/** Any JSON value, null included (a field that did not exist, a value as stored). */
export const JSON_VALUE = {
  oneOf: [
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'array', items: {} },
    { type: 'object', additionalProperties: true, nullable: true },
  ],
};

/** A JSON object whose members depend on the record (event data, driver details). */
export const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
