/**
 * What the one upload walker (walk/upload-walk.ts) asks of a transport. The walker decides everything a user
 * can see (overwrite, atomic placement, preserve, progress, what a failure leaves behind); a transport
 * only carries it out: SCP as records over one `scp -t` channel plus helper commands, SFTP as requests.
 */
import type { Readable } from 'stream';
import type { TransferError, TransferErrorCode } from '../../errors';
import type { Leftover } from '../leftovers/journal';
import type { PlannedFile, Times } from './upload-plan';
import type { TransportUsed } from '../types';
import type { LoneUpload } from './lone-upload';
import type { FileStep, RemoteKind, Step } from './upload-layout';

/** The server proved that this transport cannot run there (no scp), and nothing was written. */
export type Unavailable = 'unavailable';

/** How the content session starts: which steps it will carry, into which existing directory. */
export interface UploadSession {
  steps: Step[];
  targetDir: Buffer;
  /** modes are applied exactly and times sent (files and directories) */
  preserve: boolean;
}

/** A directory to enter (created, writable for the owner, when missing) before its entries are sent. */
export interface EnterDirectory {
  name: Buffer;
  path: Buffer;
  /** the mode to give it when it is created (or always, with preserve) once its entries are sent */
  mode: number;
  /** with preserve: set once its entries are sent */
  times?: Times;
  /** a staging directory (private, 0700, emptied and removed by placement) */
  staging: boolean;
  /** a staging directory is refused for its files' sake: the final path of the first, for the error */
  firstFile?: Buffer;
}

/** One file's content to send to `step.wirePath` (its temporary name when atomic). */
export interface SendFile {
  step: FileStep;
  file: PlannedFile;
  content: Readable | Buffer;
  /** with preserve: set on the file */
  times?: Times;
  /** create only, never replace (temporary names, overwrite "fail" without atomic), where the protocol can say so */
  exclusive: boolean;
  /** the server accepted the file (created or, without atomic, truncated it): what fails now is its data */
  accepted(): void;
  onBytes(n: number): void;
  /**
   * The file the walker sends right after this one (atomic only: it names a temporary), its content read
   * and of the planned size: a transport may announce it together with this file's end, saving a round trip.
   */
  next?: { step: FileStep; content: Buffer; times?: Times };
}

/** A finished temporary to move onto its final name. */
export interface Placement {
  from: Buffer;
  to: Buffer;
  /** the staging directory it was sent into (files of one staging directory move together) */
  staging?: { path: Buffer; parent: Buffer };
}

/** Per placement: done, refused (a file exists, with overwrite "fail"; a directory is in the way), or failed. */
export type PlaceOutcome = { kind: 'ok' } | { kind: 'exists' } | { kind: 'directory' } | { kind: 'failed'; code: TransferErrorCode; detail?: string };

/** A directory's final mode and times, set after the files were placed in it. */
export interface DirectoryFinish {
  path: Buffer;
  mode?: number;
  times?: Times;
}

export interface UploadTransport {
  readonly name: TransportUsed;
  /**
   * What exists at each path (a symlink to a directory is a directory, a dangling one "other"). `lone`:
   * the plan is one file and these are its two possible targets, so the transport may start the content
   * session with the probe (open() then continues it).
   */
  probe(paths: Buffer[], shown: string, lone?: LoneUpload): Promise<RemoteKind[] | Unavailable>;
  /**
   * True when this name may share a staging directory with its siblings, whose files then move into
   * place together (one `mv` per directory over SCP); false keeps a per-file temporary name.
   */
  canStage(name: Buffer): boolean;
  /** Opens what carries the content. */
  open(session: UploadSession, shown: string): Promise<void | Unavailable>;
  enterDirectory(dir: EnterDirectory): Promise<void>;
  leaveDirectory(dir: EnterDirectory): Promise<void>;
  sendFile(send: SendFile): Promise<void>;
  /** Ends the content session after the last step; rejects when the server reports a failure. */
  close(): Promise<void>;
  /**
   * After a failure: stops the content session. With `wait`, resolves true once the server can no longer
   * create a name it was sent (false when it did not say so in time: its temporaries stay in the journal).
   */
  abandon(failure: TransferError, wait: boolean): Promise<boolean>;
  /**
   * Moves each finished temporary onto its final name (`replace`: over an existing file). Each temporary
   * ends placed or removed; a staging directory whose files all moved is removed. Rejects only when it
   * cannot tell (the caller then removes the temporaries). `cleanup`: after a failure, within the clean-up
   * budget even when the job was stopped.
   */
  place(placements: Placement[], replace: boolean, shown: string, cleanup: boolean): Promise<PlaceOutcome[]>;
  /** Sets directory modes and times after placement (deepest first). */
  finishDirectories(directories: DirectoryFinish[], shown: string): Promise<void>;
  /** Best effort after a failure, within the clean-up budget: true when none of them is left. */
  removeQuietly(items: Leftover[]): Promise<boolean>;
  /** The pooled connection's loss, if it was lost. */
  connectionError(): TransferError | undefined;
  /** Gives back the channels (the walker calls it once, when the job ends). */
  release(): void;
}
