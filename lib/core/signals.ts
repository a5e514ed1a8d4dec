import { constants } from 'node:os';

const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(constants.signals)) {
  if (!byNumber.has(number)) byNumber.set(number, name as NodeJS.Signals);
}

/** 'SIGTERM' for 15 on this platform, or null when the number is unknown. */
export function signalName(number: number): NodeJS.Signals | null {
  return byNumber.get(number) ?? null;
}

/** The platform's number for a signal name, or undefined. */
export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}
