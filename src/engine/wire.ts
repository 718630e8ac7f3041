/**
 * The messages between Node-RED's thread (host.ts) and the engine's worker (worker-main.ts), and what
 * survives the crossing: errors become plain objects and back (code, words, host, path, a partial failure's
 * outcomes), Buffers arrive as Uint8Arrays and are made Buffers again (same memory, no copy), and a result's
 * Buffers that own their whole memory are handed over (transferred) rather than copied.
 */
import { TRANSFER_ERROR_CODES, TransferError, type TransferErrorCode, type TransferErrorReason } from '../errors';
import type { TestConnectionOptions } from '../ssh';
import type { PoolState, PoolStats, SshEndpoint, SshWarning } from '../ssh/types';
import type { ProgressEvent } from '../transfer';
import type { ConnectionSetup, JobOrder } from './types';

export interface WireError {
  name: string;
  message: string;
  /** a system error's errno name (ENOENT, EMFILE, ...): the nodes map it onto a documented code */
  code?: string;
  transfer?: { code: TransferErrorCode; summary: string; host?: string; path?: string; detail?: string; reason?: TransferErrorReason };
  /** a remote operation's per-path outcomes (src/remote/outcomes.ts PartialFailure) */
  outcomes?: unknown;
}

export type HostMessage =
  | { t: 'connect'; key: string; setup: ConnectionSetup }
  | { t: 'close'; key: string; request: number }
  | { t: 'run'; id: number; key: string; order: JobOrder; progress: boolean; debug: boolean }
  | { t: 'abort'; id: number }
  | { t: 'test'; request: number; endpoint: SshEndpoint; options: TestConnectionOptions }
  | { t: 'chunk'; stream: number; data: Uint8Array }
  | { t: 'end'; stream: number }
  | { t: 'streamError'; stream: number; error: WireError }
  | { t: 'heap'; request: number }
  /** the test hook: an uncaught exception in the worker */
  | { t: 'crash' };

export type WorkerMessage =
  /** `events`: the job's progress not yet sent, delivered before the answer */
  | { t: 'done'; id: number; result: unknown; events: ProgressEvent[] }
  | { t: 'failed'; id: number; error: WireError; events: ProgressEvent[] }
  | { t: 'progress'; id: number; events: ProgressEvent[] }
  | { t: 'debug'; id?: number; key?: string; text: string }
  | { t: 'state'; key: string; state: PoolState; error?: WireError }
  | { t: 'warning'; key: string; warning: SshWarning }
  | { t: 'closeFailed'; key: string; detail: string }
  | { t: 'stats'; key: string; stats: PoolStats }
  | { t: 'reply'; request: number; value: unknown }
  | { t: 'replyError'; request: number; error: WireError }
  /** a pumped stream's reader wants more */
  | { t: 'read'; stream: number };

export function toWireError(error: unknown): WireError {
  if (error instanceof TransferError) {
    const wire: WireError = {
      name: error.name,
      message: error.message,
      transfer: { code: error.code, summary: error.summary, host: error.host, path: error.path, detail: error.detail, reason: error.reason },
    };
    const outcomes = (error as { outcomes?: unknown }).outcomes;
    if (outcomes !== undefined) wire.outcomes = outcomes;
    return wire;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

export function fromWireError(wire: WireError): Error {
  const transfer = wire.transfer;
  if (transfer && (TRANSFER_ERROR_CODES as readonly string[]).includes(transfer.code)) {
    const error = new TransferError(transfer.code, transfer.summary, {
      host: transfer.host,
      path: transfer.path,
      detail: transfer.detail,
      reason: transfer.reason,
    });
    if (wire.outcomes !== undefined) Object.assign(error, { outcomes: reviveBuffers(wire.outcomes) });
    return error;
  }
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  return error;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Every Uint8Array inside plain objects and arrays made a Buffer over the same memory (in place). */
export function reviveBuffers<T>(value: T): T {
  if (value instanceof Uint8Array) return (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)) as T;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) value[index] = reviveBuffers(value[index] as unknown);
  } else if (typeof value === 'object' && value !== null && isPlainObject(value)) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'object' && item !== null) record[key] = reviveBuffers(item);
    }
  }
  return value;
}

/** A Buffer whose memory is its own (not a slice of a pool or of a bigger buffer) can be handed over whole. */
export function ownsItsMemory(buffer: Uint8Array): boolean {
  return buffer.buffer instanceof ArrayBuffer && buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength && buffer.byteLength > 0;
}

/** The memory of every Buffer inside a result that can be handed over (files' data, entries' names). */
export function transferablesIn(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const visit = (item: unknown, depth: number): void => {
    if (depth > 6 || typeof item !== 'object' || item === null) return;
    if (item instanceof Uint8Array) {
      if (ownsItsMemory(item)) found.add(item.buffer as ArrayBuffer);
    } else if (Array.isArray(item)) {
      for (const element of item) visit(element, depth + 1);
    } else if (isPlainObject(item)) {
      for (const element of Object.values(item)) visit(element, depth + 1);
    }
  };
  visit(value, 0);
  return [...found];
}
