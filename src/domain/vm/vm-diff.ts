/**
 * What changed in a VM between two points of its history, field by field, each
 * change attributed to the event that made it. Pure: the caller reads the
 * stream (upcast) and passes the events in.
 */
import { isVmEventType, type VmEvent } from './vm.events.js';
import { evolveVm, initialVmState, type VmState } from './vm.state.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What the diff needs of a stored event (a RecordedEvent fits), its data already upcast. */
export interface HistoryEvent {
  id: string;
  position: bigint;
  revision: bigint;
  type: string;
  data: Record<string, unknown>;
  metadata: { at: string; principal: string; correlationId: string; reason?: string };
}

/** The event a change came from, as an auditor cites it. */
export interface ChangeCause {
  id: string;
  position: string;
  revision: number;
  type: string;
  at: string;
  principal: string;
  correlationId: string;
  reason?: string;
}

export interface FieldChange {
  /** Dotted path into the VM state: `state`, `hostId`, `spec.memoryMiB`, `snapshots.<name>`, `pending`, `pending.running`… */
  path: string;
  /** null where the field did not exist (or was null). */
  old: JsonValue;
  new: JsonValue;
  event: ChangeCause;
}

export type FlatState = Map<string, JsonValue>;

// `exists` only says the stream has events; every other field says so already.
function visible(state: VmState): Record<string, unknown> {
  const { exists: _exists, ...fields } = state;
  return fields;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A list of records that carry a string `name` (snapshots) is a map by name, not a sequence. */
function isNamedList(v: unknown[]): v is Array<Record<string, unknown> & { name: string }> {
  return v.length > 0 && v.every((x) => isRecord(x) && typeof x.name === 'string');
}

function toJson(v: unknown): JsonValue {
  return JSON.parse(JSON.stringify(v)) as JsonValue;
}

type Change = { path: string; old: JsonValue; new: JsonValue };

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function walk(value: unknown, path: string, out: FlatState): void {
  if (value === undefined || value === null) return; // absent and null read the same: null
  if (Array.isArray(value)) {
    if (isNamedList(value)) for (const item of value) out.set(`${path}.${item.name}`, toJson(item));
    else if (value.length) out.set(path, toJson(value));
    return;
  }
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) walk(v, join(path, k), out);
    return;
  }
  out.set(path, value as JsonValue);
}

/**
 * The VM state as dotted paths to leaf values. Nested objects are walked to
 * their leaves (`spec.memoryMiB`); a named record (`snapshots.s1`) is one value.
 * A VM that does not exist yet has no fields.
 */
export function flattenVm(state: VmState): FlatState {
  const out: FlatState = new Map();
  if (!state.exists) return out;
  for (const [k, v] of Object.entries(visible(state))) walk(v, k, out);
  return out;
}

export function sameJson(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameJson(x, b[i]!));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => k in b && sameJson(a[k]!, b[k]!));
  }
  return false;
}

/** Paths whose value differs, sorted by path; a missing path reads as null. */
export function diffFlat(before: FlatState, after: FlatState): Change[] {
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: Change[] = [];
  for (const path of paths) {
    const old = before.get(path) ?? null;
    const now = after.get(path) ?? null;
    if (!sameJson(old, now)) out.push({ path, old, new: now });
  }
  return out;
}

const orNull = (v: unknown): JsonValue => (v === undefined || v === null ? null : toJson(v));

function byName(v: unknown): Map<string, unknown> | undefined {
  if (!Array.isArray(v) || (v.length && !isNamedList(v))) return undefined;
  return new Map((v as Array<{ name: string }>).map((x) => [x.name, x]));
}

/**
 * Compares two values of the same path. Objects present on both sides are
 * compared field by field; one that appears or disappears whole (an operation
 * opened or closed, a migration, a snapshot) is one change with its whole value.
 */
function diffValues(path: string, old: unknown, now: unknown, out: Change[]): void {
  if (isRecord(old) && isRecord(now)) {
    for (const k of [...new Set([...Object.keys(old), ...Object.keys(now)])].sort())
      diffValues(join(path, k), old[k], now[k], out);
    return;
  }
  const oldByName = byName(old);
  const nowByName = byName(now);
  if (oldByName && nowByName) {
    for (const name of [...new Set([...oldByName.keys(), ...nowByName.keys()])].sort()) {
      const [a, b] = [orNull(oldByName.get(name)), orNull(nowByName.get(name))];
      if (!sameJson(a, b)) out.push({ path: join(path, name), old: a, new: b });
    }
    return;
  }
  const [a, b] = [orNull(old), orNull(now)];
  if (!sameJson(a, b)) out.push({ path, old: a, new: b });
}

/** What one event changed: every field when it created the VM, otherwise see diffValues. */
export function diffStates(before: VmState, after: VmState): Change[] {
  if (!before.exists) return diffFlat(flattenVm(before), flattenVm(after));
  const out: Change[] = [];
  diffValues('', visible(before), visible(after), out);
  return out;
}

export function causeOf(e: HistoryEvent): ChangeCause {
  return {
    id: e.id,
    position: e.position.toString(),
    revision: Number(e.revision),
    type: e.type,
    at: e.metadata.at,
    principal: e.metadata.principal,
    correlationId: e.metadata.correlationId,
    ...(e.metadata.reason ? { reason: e.metadata.reason } : {}),
  };
}

/** The VM's evolve; an event type the VM does not know (yet) leaves the state as it was. */
export function applyVmEvent(state: VmState, e: HistoryEvent): VmState {
  return isVmEventType(e.type) ? evolveVm(state, { type: e.type, data: e.data } as VmEvent) : state;
}

export function foldVm(events: readonly HistoryEvent[], from: VmState = initialVmState()): VmState {
  return events.reduce(applyVmEvent, from);
}

/**
 * Every field change made by `events`, applied in order to `start`: one entry
 * per field per event, so a field changed three times appears three times,
 * oldest first. An event that changes nothing (a progress report) adds nothing.
 * The event that creates the VM lists every field (`spec.memoryMiB`…, old null).
 */
export function vmChanges(start: VmState, events: readonly HistoryEvent[]): FieldChange[] {
  const changes: FieldChange[] = [];
  let state = start;
  for (const e of events) {
    const next = applyVmEvent(state, e);
    const cause = causeOf(e);
    for (const c of diffStates(state, next)) changes.push({ ...c, event: cause });
    state = next;
  }
  return changes;
}
