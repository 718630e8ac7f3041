import { TransferError } from '../errors';
import type { RecordLimits, ScpTimes } from './records';
import type { ScpFinish, ScpSessionOptions, ScpStreams } from './types';

export type SinkExpectation =
  | { kind: 'exact'; name: string }
  | { kind: 'glob'; pattern: string }
  | { kind: 'tree'; name: string };
export interface SinkLimits extends RecordLimits {
  maxDepth: number;
  maxFiles: number;
  maxTotalBytes: number;
}
export type SinkEntry =
  | { type: 'file'; parents: string[]; name: string; mode: number; size: number; times?: ScpTimes }
  | { type: 'directory'; parents: string[]; name: string; mode: number; times?: ScpTimes }
  | { type: 'endDirectory'; parents: string[]; name: string };
export interface ScpSinkOptions extends ScpSessionOptions {
  expect: SinkExpectation;
  recursive: boolean;
  limits: SinkLimits;
}

export class ScpSink {
  constructor(_streams: ScpStreams, _options: ScpSinkOptions) {}
  async next(): Promise<SinkEntry | null> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async receive(_write: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async skip(_message: string): Promise<void> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async accept(): Promise<void> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async finish(): Promise<ScpFinish> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  destroy(_error?: Error): void {}
}
