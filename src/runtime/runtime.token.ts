export const RUNTIME = Symbol('virtledger.runtime');
