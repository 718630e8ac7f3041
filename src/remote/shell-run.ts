/**
 * Runs one toolbox command with the transfers' command runner (runRemote: bounded stderr, silence and
 * time) and hands its NUL-separated stdout records to a reader as they arrive, so a listing that never
 * ends is stopped by the reader's entry cap, by the byte cap or by the time limit, whichever comes first,
 * and the channel is destroyed. Text before the marker (a login banner) is skipped.
 */
import { TransferError } from '../errors';
import { cleanText } from '../text';
import { type Job, runRemote } from '../transfer';
import { REMOTE_MARKER } from './remote-scripts';

/** Before the marker: a banner of a few lines, not a stream. */
const MAX_PREAMBLE = 64 * 1024;
/**
 * The longest record: a stat block of STAT_BATCH paths (each at most PATH_MAX, 4 KiB, plus its numbers)
 * is about 530 KiB; every other record holds one or two paths. Text without a NUL past it is no record.
 */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** The shortest overall limit of one command. */
const MIN_LIMIT_MS = 20_000;

export interface RecordReader {
  /** the tier the server announced: 's' (stat) or 'l' (the fallback) */
  tier(letter: string): void;
  /** one record (its kind letter first, without the NUL); throwing stops the command with that error */
  record(record: Buffer): void;
}

export interface ShellRunLimits {
  /** all the stdout the command may print */
  maxBytes: number;
  /** the error for a command that prints more (default: EPROTO) */
  tooMuch?: () => TransferError;
}

export interface RecordsOutcome {
  exitCode: number | null;
  stderr: string;
  sawMarker: boolean;
  stdoutHead: string;
}

/** How long one toolbox command may take in all: four idle timeouts, at least 20 s. */
export function shellLimitMs(job: Job): number {
  return Math.max(4 * job.idleTimeoutMs, MIN_LIMIT_MS);
}

/** Cuts stdout into the marker's tier and NUL-ended records, each handed to the reader at its NUL. */
class RecordSplitter {
  private preamble: Buffer | undefined = Buffer.alloc(0);
  /** the record being received, in pieces (a stat block can be long: joined once, at its NUL) */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  stdoutHead = '';

  constructor(
    private readonly job: Job,
    private readonly path: string,
    private readonly reader: RecordReader,
  ) {}

  get sawMarker(): boolean {
    return this.preamble === undefined;
  }

  /** True when the output stopped inside a record. */
  get midRecord(): boolean {
    return this.pieces.length > 0 && this.sawMarker;
  }

  push(chunk: Buffer): void {
    if (this.preamble === undefined) return this.deliver(chunk);
    this.preamble = Buffer.concat([this.preamble, chunk]);
    const at = this.preamble.indexOf(REMOTE_MARKER);
    // The marker, its tier letter and the NUL that ends them.
    if (at >= 0 && this.preamble.length >= at + REMOTE_MARKER.length + 2) {
      const tier = String.fromCharCode(this.preamble[at + REMOTE_MARKER.length] as number);
      const rest = this.preamble.subarray(at + REMOTE_MARKER.length + 2);
      this.preamble = undefined;
      this.reader.tier(tier);
      this.deliver(rest);
      return;
    }
    this.stdoutHead = cleanText(this.preamble, 200);
    if (this.preamble.length > MAX_PREAMBLE) {
      throw new TransferError('EPROTO', 'the server printed something else instead of running the command', { host: this.job.host, path: this.path, detail: this.stdoutHead });
    }
  }

  private deliver(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      const nul = data.indexOf(0, at);
      const piece = data.subarray(at, nul < 0 ? data.length : nul);
      this.pieceBytes += piece.length;
      if (this.pieceBytes > MAX_RECORD_BYTES) {
        throw new TransferError('EPROTO', 'the server printed a record longer than any the command prints', { host: this.job.host, path: this.path, detail: `over ${MAX_RECORD_BYTES} bytes without a NUL` });
      }
      this.pieces.push(piece);
      if (nul < 0) return;
      const record = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces);
      this.pieces = [];
      this.pieceBytes = 0;
      at = nul + 1;
      this.reader.record(record);
    }
  }
}

/** Runs `command`; resolves with the exit code and stderr once the channel closed and every record was read. */
export async function runRecords(job: Job, command: Buffer, path: string, reader: RecordReader, limits: ShellRunLimits): Promise<RecordsOutcome> {
  const splitter = new RecordSplitter(job, path, reader);
  const tooMuch =
    limits.tooMuch ??
    ((): TransferError => new TransferError('EPROTO', 'the server printed more than a listing of the allowed entries can hold', { host: job.host, path, detail: `over ${limits.maxBytes} bytes` }));
  const outcome = await runRemote(job, command, path, { totalMs: shellLimitMs(job), idleMs: job.idleTimeoutMs }, { maxBytes: limits.maxBytes, tooMuch, onData: (chunk) => splitter.push(chunk) });
  if (splitter.midRecord) throw new TransferError('EPROTO', 'the remote command ended in the middle of a record', { host: job.host, path });
  return { exitCode: outcome.exitCode, stderr: outcome.stderr, sawMarker: splitter.sawMarker, stdoutHead: splitter.stdoutHead };
}
