/**
 * Several files into memory (the node's msg.payload with a glob or a tree): the engine's memory target
 * holds one file, so the set goes to a private temporary directory (the same caps, counted in total) and
 * is read back; the directory is always removed. Each file's `key` is its path below the requested
 * directory (its name, unless the download is recursive). Only files fetched by this job are read back:
 * one skipped as unchanged (only new or changed files) was never written there and carries no data.
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';
import type { DownloadRequest, TransferContext, TransferResult, TransferredFile } from '../types';

/** A file of several downloaded into memory, with its key for msg.parts. */
export type MemoryFile = TransferredFile & { key: string };
export type MemoryResult = Omit<TransferResult, 'files'> & { files: MemoryFile[] };

/** `download` is the engine's (index.ts passes it in: this folder does not import the entry point). */
export async function severalIntoMemory(
  download: (ctx: TransferContext, request: DownloadRequest) => Promise<TransferResult>,
  ctx: TransferContext,
  request: DownloadRequest,
): Promise<MemoryResult> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'scp-download-'));
  try {
    const result = await download(ctx, { ...request, target: { kind: 'directory', path: scratch }, preserve: false, overwrite: 'overwrite', createDirectory: false });
    const files: MemoryFile[] = [];
    for (const file of result.files) {
      const { localPath, ...rest } = file;
      const key = localPath === undefined ? path.posix.basename(file.remotePath) : path.relative(scratch, localPath).split(path.sep).join('/');
      const data = file.transferred && localPath !== undefined ? await fs.readFile(localPath) : undefined;
      files.push({ ...rest, key, ...(data ? { data } : {}) });
    }
    return { ...result, files, directories: [] };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
