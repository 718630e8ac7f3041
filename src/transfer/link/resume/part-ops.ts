/**
 * What resuming needs of the server, over either transport: stat a path, the sha256 of a byte range,
 * read from an offset, write from an offset, remove, rename, set the mode. Over SFTP with offsets
 * (sftp-part-ops.ts); over servers with SCP but no SFTP with shell commands (shell-part-ops.ts).
 */
export interface RemoteStat {
  kind: 'file' | 'directory' | 'other';
  size: number;
  /** seconds since the epoch */
  mtime: number;
  mode: number;
}

export interface PartOps {
  stat(path: Buffer): Promise<RemoteStat | undefined>;
  /** hex sha256 of the bytes [from, from + length) ('' when the file is shorter) */
  rangeSha256(path: Buffer, from: number, length: number): Promise<string>;
  /** hands the bytes [from, size) to `write`, awaiting it */
  read(path: Buffer, from: number, size: number, write: (chunk: Buffer) => Promise<void>): Promise<void>;
  /** writes `chunks` at `from` (0: creates the file, exclusively), counting what the server took */
  write(path: Buffer, from: number, chunks: AsyncIterable<Buffer>, onBytes: (n: number) => void): Promise<void>;
  removeQuietly(path: Buffer): Promise<void>;
  /** moves `from` onto `to`, replacing it */
  rename(from: Buffer, to: Buffer): Promise<void>;
  setMode(path: Buffer, mode: number, times?: { atime: number; mtime: number }): Promise<void>;
  release(): void;
}
