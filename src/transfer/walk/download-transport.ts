/**
 * What a download needs from a transport: the remote side as a stream of entries in walk order, each
 * answered before the next is asked for. SCP produces them as the server's `scp -f` sends its records;
 * SFTP by walking listings. Everything the user decided (which names, caps, overwrite, placement,
 * preserve, progress, partial failures) is applied above this interface, once, by walk/download-walk.ts.
 */
import type { TransferError } from '../../errors';
import type { AfterAction, TransportUsed } from '../types';
import type { Unavailable } from './upload-transport';

export interface RemoteTimes {
  /** seconds since the epoch */
  mtime: number;
  atime: number;
}

/**
 * - 'file': answer with `receive` (fetch it) or `skip`.
 * - 'directory': answer with `enter` (its entries follow, closed by a 'leave') or `skip` (none follow).
 * - 'leave': the directory entered last is complete.
 * - 'failed': the server cannot send this entry (permission denied, vanished, not a regular file, a
 *   directory without recursive); nothing of it follows and the walk goes on, as `scp -f` goes on.
 *   Over SCP the server reports these as text the sink keeps until the end of the stream: there they
 *   surface as the error `next()` throws at the end instead.
 *
 * `name` is one path component below the entry's parent, already checked by the transport as the
 * protocol's hostile input (over SFTP before any name of the same listing is used).
 */
export type RemoteEntry =
  | { kind: 'file'; name: string; size: number; mode: number; times?: RemoteTimes }
  | { kind: 'directory'; name: string; mode: number; times?: RemoteTimes }
  | { kind: 'leave' }
  | { kind: 'failed'; name: string; error: TransferError };

/** What a file was when it was fetched: the after-action leaves it alone when it is no longer that. */
export interface FetchedState {
  size: number;
  /** seconds since the epoch, when known */
  mtime?: number;
}

/** What became of one remote file after its local copy was placed. */
export type AfterOutcome = { removed: true } | { movedTo: Buffer } | { error: TransferError };

export interface DownloadTransport {
  readonly used: TransportUsed;
  /** The next entry, or null after a clean end of everything the request selected. */
  next(): Promise<RemoteEntry | null>;
  /** For a 'file': streams exactly its announced bytes into `write`, awaiting it (back-pressure). */
  receive(write: (chunk: Buffer) => void | Promise<void>): Promise<void>;
  /** For a 'file' or 'directory': declines it; `reason` may reach the server. */
  skip(reason: string): Promise<void>;
  /** For a 'directory': its entries follow. */
  enter(): Promise<void>;
  /**
   * The after-action for files complete locally, all in one remote directory: one outcome per file, in
   * order (over SCP one command per directory, over SFTP one request per file on the same channel).
   * A file whose size or mtime is no longer the `fetched` one is neither deleted nor moved (ECHANGED).
   */
  afterAction(action: Exclude<AfterAction, { kind: 'keep' }>, dir: Buffer, names: Buffer[], fetched: FetchedState[]): Promise<AfterOutcome[]>;
  /** The connection's own failure, which explains (and replaces) whatever the torn-down streams said. */
  connectionError(): Error | undefined;
}

/**
 * A transport opened for one download plan (by the transport's `open...Download`, which transfer/index.ts
 * picks): the walker walks `transport`, reads a failure of the walk through `failed`, and `close`s it after.
 */
export interface OpenedDownload {
  readonly transport: DownloadTransport;
  /** The error a failed walk stands for over this transport, or 'unavailable' when the server proved it cannot serve it. */
  failed(error: unknown): unknown;
  close(): void;
}
export type { Unavailable };
