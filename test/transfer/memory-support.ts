/** Helpers for the memory test and the benchmark: big files, digests, the measuring child process. */
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshdServer } from '../harness';

export const MEMORY_CAP = 64 * 1024 * 1024;

/** A file of `size` bytes made of distinct 1 MiB blocks (fast to write, not compressible into sameness). */
export async function makeBigFile(path: string, size: number): Promise<string> {
  const hash = crypto.createHash('sha256');
  const handle = await fs.open(path, 'w');
  try {
    const block = crypto.randomBytes(1024 * 1024);
    for (let offset = 0; offset < size; offset += block.length) {
      block.writeUInt32BE(offset / block.length, 0);
      const piece = block.subarray(0, Math.min(block.length, size - offset));
      await handle.write(piece);
      hash.update(piece);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ChildReport {
  baseline: number;
  peak: number;
  growth: number;
  upBytes: number;
  downBytes: number;
  upMs: number;
  downMs: number;
  transport: string;
}

export function runMemoryChild(server: SshdServer, transport: 'scp' | 'sftp', localFile: string, remoteDir: string, backFile: string): Promise<ChildReport> {
  const input = {
    host: server.host,
    port: server.port,
    username: server.username,
    clientKey: server.clientKey,
    fingerprints: server.hostKeyFingerprints,
    transport,
    localFile,
    remoteDir,
    backFile,
  };
  const script = join(__dirname, 'fixtures', 'memory-child.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', script, JSON.stringify(input)], { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`child failed: ${stderr || error.message}`));
      resolve(JSON.parse(stdout) as ChildReport);
    });
  });
}

