import type { ConsoleMode } from './console.events.js';

export interface OpenConsole {
  type: 'OpenConsole';
  vmId: string;
  sessionId: string;
  principal: string;
  mode: ConsoleMode;
  hostId: string;
}

export interface CloseConsole {
  type: 'CloseConsole';
  vmId: string;
  sessionId: string;
  principal: string;
  reason: string;
}

export type ConsoleCommand = OpenConsole | CloseConsole;
