/**
 * The scheduled-pull settings of the download node read from its definition and the message: the
 * after-action (keep, delete, move to a directory given as a typed input) and "only new or changed
 * files" with its record, one JSON file in Node-RED's user directory per connection, device and remote
 * path (msg.reset clears it before the pull). The decisions themselves are the engine's (src/transfer).
 */
import { createHash } from 'crypto';
import os from 'os';
import path from 'path';
import { FilePullRecord } from '../transfer';
import type { DownloadRequest, TransferResult } from '../transfer';
import type { DeviceAddress } from './device';
import type { NodeAPI, NodeMessage } from './red-types';

export interface PullDef {
  connection: string;
  afterAction?: 'keep' | 'delete' | 'move';
  moveTo?: string;
  moveToType?: string;
  onlyNew?: boolean;
}

/** Where the record of one node's pulls of `remotePath` on `device` over `connection` is kept. */
export function pullRecordFile(RED: NodeAPI, connection: string, device: DeviceAddress, remotePath: string): string {
  const userDir = RED.settings.userDir ?? path.join(os.homedir(), '.node-red');
  const key = createHash('sha256').update(JSON.stringify([connection, device.username, device.host, device.port, remotePath])).digest('hex').slice(0, 32);
  return path.join(userDir, 'scp-pulls', `${key}.json`);
}

/**
 * Runs `pull` with the record of earlier pulls when "only new" is on (cleared first on msg.reset), and
 * saves what the pull fetched, also when it failed part way.
 */
export async function withPullRecord<T>(
  RED: NodeAPI,
  def: PullDef,
  msg: NodeMessage,
  device: DeviceAddress,
  remotePath: string,
  pull: (onlyChanged: DownloadRequest['onlyChanged']) => Promise<T>,
): Promise<T> {
  if (def.onlyNew !== true) return pull(undefined);
  const file = pullRecordFile(RED, def.connection, device, remotePath);
  if (msg.reset !== undefined && msg.reset !== false) await FilePullRecord.clear(file);
  const record = await FilePullRecord.load(file);
  try {
    return await pull({ record });
  } finally {
    await record.save();
  }
}

/** How many files this pull fetched and how many it skipped (unchanged or existing). */
export function pullCounts(result: TransferResult): { fetched: number; skipped: number } {
  const fetched = result.files.filter((file) => file.transferred).length;
  return { fetched, skipped: result.files.length - fetched };
}
