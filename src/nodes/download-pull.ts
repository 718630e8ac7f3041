/**
 * The scheduled-pull settings of the download node read from its definition and the message: the
 * after-action (keep, delete, move to a directory given as a typed input) and "only new or changed
 * files" with its record, one JSON file in Node-RED's user directory per connection, device and remote
 * path (msg.reset clears it before the pull). The engine loads and saves it; the decisions are src/transfer's.
 */
import { createHash } from 'crypto';
import os from 'os';
import path from 'path';
import type { PullRecordOrder } from '../engine';
import type { TransferResult } from '../transfer';
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

/** "Only new": the record this pull reads and writes (cleared first on msg.reset), or none. */
export function pullRecordOrder(RED: NodeAPI, def: PullDef, msg: NodeMessage, device: DeviceAddress, remotePath: string): PullRecordOrder | undefined {
  if (def.onlyNew !== true) return undefined;
  return { file: pullRecordFile(RED, def.connection, device, remotePath), reset: msg.reset !== undefined && msg.reset !== false };
}

/** How many files this pull fetched and how many it skipped (unchanged or existing). */
export function pullCounts(result: TransferResult): { fetched: number; skipped: number } {
  const fetched = result.files.filter((file) => file.transferred).length;
  return { fetched, skipped: result.files.length - fetched };
}
