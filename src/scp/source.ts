import type { Readable } from 'stream';
import { TransferError } from '../errors';
import type { ScpTimes } from './records';
import type { ScpFinish, ScpSessionOptions, ScpStepResult, ScpStreams } from './types';

export interface ScpSourceFile {
  /** the name in the C record (one path component) */
  name: string | Buffer;
  mode: number;
  /** exactly this many bytes are sent; a Readable that yields more or fewer fails with EPROTO */
  size: number;
  /** sent as a T record first (only meaningful when the server runs with -p) */
  times?: ScpTimes;
  content: Readable | Buffer;
  /** called with the number of bytes just written */
  onBytes?: (n: number) => void;
}

export interface ScpSourceDirectory {
  name: string | Buffer;
  mode: number;
  times?: ScpTimes;
}

/** The error ready() throws; `noScp` is true when the server has no usable scp (fall back to SFTP). */
export type ScpProtocolError = TransferError & { noScp: boolean };

/** True for an error from ready() saying the server has no usable scp. */
export function isNoScpError(error: unknown): error is ScpProtocolError {
  return error instanceof TransferError && (error as Partial<ScpProtocolError>).noScp === true;
}

export class ScpSource {
  constructor(_streams: ScpStreams, _options: ScpSessionOptions) {}
  async ready(): Promise<void> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async sendFile(_file: ScpSourceFile): Promise<ScpStepResult> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async enterDirectory(_dir: ScpSourceDirectory): Promise<ScpStepResult> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async leaveDirectory(): Promise<ScpStepResult> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  async finish(): Promise<ScpFinish> {
    throw new TransferError('EPROTO', 'not implemented');
  }
  destroy(_error?: Error): void {}
}
