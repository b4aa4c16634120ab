/**
 * Worker errors arrive as typed codes with one-line messages; the host shows them as they are, never a stack.
 */
import { WorkerErrorCode } from '../protocol/worker';

export function isCancelled(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === WorkerErrorCode.Cancelled;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.message;
  return String(e);
}
