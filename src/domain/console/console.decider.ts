import type { Decider } from '../decider.js';
import type { ConsoleCommand } from './console.commands.js';
import type { ConsoleEvent } from './console.events.js';

/** The sessions of one VM's console that opened and have not closed yet. */
export interface ConsoleState {
  open: readonly string[];
  /** Sessions ever opened (for the record; the stream itself is the history). */
  opened: number;
}

export function initialConsoleState(): ConsoleState {
  return { open: [], opened: 0 };
}

/** Opening a session already open, or closing one already closed, is already done: no event. */
export function decideConsole(cmd: ConsoleCommand, state: ConsoleState): ConsoleEvent[] {
  switch (cmd.type) {
    case 'OpenConsole': {
      if (state.open.includes(cmd.sessionId)) return [];
      const { vmId, sessionId, principal, mode, hostId } = cmd;
      return [{ type: 'ConsoleOpened', data: { vmId, sessionId, principal, mode, hostId } }];
    }
    case 'CloseConsole': {
      if (!state.open.includes(cmd.sessionId)) return [];
      const { vmId, sessionId, principal, reason } = cmd;
      return [{ type: 'ConsoleClosed', data: { vmId, sessionId, principal, reason } }];
    }
  }
}

export function evolveConsole(state: ConsoleState, event: ConsoleEvent): ConsoleState {
  switch (event.type) {
    case 'ConsoleOpened':
      return { open: [...state.open, event.data.sessionId], opened: state.opened + 1 };
    case 'ConsoleClosed':
      return { ...state, open: state.open.filter((id) => id !== event.data.sessionId) };
    default:
      return state;
  }
}

export const consoleDecider: Decider<ConsoleCommand, ConsoleEvent, ConsoleState> = {
  initialState: initialConsoleState,
  decide: decideConsole,
  evolve: evolveConsole,
};
