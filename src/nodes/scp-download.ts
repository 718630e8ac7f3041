/**
 * scp download: the remote path (a file, a directory with `recursive`, or a pattern with `glob`) copied
 * into msg.payload, a local file or a local directory. With several files into the payload, one message
 * per file goes out carrying msg.parts, so a join node can put the set back together.
 */
import { createHash } from 'crypto';
import os from 'os';
import { INSTANCE_ID, MAX_STABLE_INTERVAL_MS, type MemoryResult } from '../transfer';
import type {
  AfterAction,
  DownloadRequest,
  DownloadTarget,
  OverwritePolicy,
  TransferredFile,
} from '../transfer';
import { isScpConnectionNode } from './connection-api';
import { cleanText } from '../text';
import { InputError } from './input-error';
import { JobRunner, type JobOutput, type PreparedJob, type RunJob } from './job-runner';
import { describeValueType, evaluateProperty, remotePathFrom } from './message-input';
import { describeResult } from './result';
import { linkOptionsFrom, type LinkDef } from './link-options';
import { pullCounts, pullRecordOrder, type PullDef } from './download-pull';
import type { PullRecordOrder } from '../engine';
import type { NodeAPI, NodeDef, NodeInstance, NodeMessage } from './red-types';

type TargetKind = 'payload' | 'file' | 'directory';

interface DownloadDef extends NodeDef, PullDef, LinkDef {
  connection: string;
  remotePath?: string;
  remotePathType?: string;
  target?: TargetKind;
  localPath?: string;
  localPathType?: string;
  recursive?: boolean;
  glob?: boolean;
  preserve?: boolean;
  overwrite?: OverwritePolicy;
  maxSize?: number | string;
  maxFiles?: number | string;
  progress?: boolean;
  /** create a missing local directory (like the core file node) */
  createDirectory?: boolean;
  /** several files into msg.payload: msg.parts of type object keyed by file name (else an array) */
  partsAsObject?: boolean;
  /** skip files modified in the last N seconds */
  minimumAge?: number | string;
  /** look twice, N seconds apart; skip files that changed */
  stableInterval?: number | string;
  /** rename each file into a claim folder of this instance before fetching it (several Node-RED, one folder) */
  claim?: boolean;
  /** seconds after which a claim folder of a dead instance is released */
  claimTimeout?: number | string;
  /** this instance's id in claim folder names (default: host name and user directory) */
  claimId?: string;
}

type PayloadResult = MemoryResult;

const MIB = 1024 * 1024;
const MAX_DEPTH = 64;
const DEFAULT_MAX_SIZE_MIB = 256;
const DEFAULT_MAX_FILES = 10000;
const DEFAULT_CLAIM_TIMEOUT_S = 3600;

const NUMBER_WHAT = {
  badClaimTimeout: 'the claim timeout',
  badMaxSize: 'the size limit',
  badMaxFiles: 'the file limit',
  badMinimumAge: 'the minimum age',
  badStableInterval: 'the stable size interval',
} as const;

function positiveNumber(value: unknown, fallback: number, key: keyof typeof NUMBER_WHAT, allowZero: boolean, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0 || number > max || (!allowZero && number === 0)) {
    const what = NUMBER_WHAT[key];
    throw new InputError(key, `${what} must be a positive number`, { detail: cleanText(String(value), 100) });
  }
  return number;
}

/**
 * "Minimum age" and "stable size" (seconds), from msg.minimumAge / msg.stableInterval when the message
 * has them, else from the node; 0 or empty is off.
 */
function settleFor(def: DownloadDef, msg: NodeMessage): DownloadRequest['settle'] {
  const minimumAge = positiveNumber(msg.minimumAge ?? def.minimumAge, 0, 'badMinimumAge', true);
  const stable = positiveNumber(msg.stableInterval ?? def.stableInterval, 0, 'badStableInterval', true, MAX_STABLE_INTERVAL_MS / 1000);
  if (minimumAge === 0 && stable === 0) return undefined;
  return { minimumAgeSeconds: minimumAge, stableIntervalMs: Math.round(stable * 1000) };
}

/**
 * Claims: this Node-RED's instance id (the node's, else one made of the host name and the user directory,
 * so two Node-RED on one host differ) and the timeout after which a dead instance's claims are released.
 */
function claimFor(RED: NodeAPI, def: DownloadDef, remotePath: string, settle: DownloadRequest['settle']): DownloadRequest['claim'] {
  if (def.claim !== true) return undefined;
  const timeoutSeconds = positiveNumber(def.claimTimeout, DEFAULT_CLAIM_TIMEOUT_S, 'badClaimTimeout', false);
  // The stable size wait happens while the files are claimed: a timeout not longer than it would let another
  // instance release (and fetch) the files of a live claim during the wait.
  const stableSeconds = (settle?.stableIntervalMs ?? 0) / 1000;
  if (stableSeconds > 0 && timeoutSeconds <= stableSeconds) {
    throw new InputError('claimTimeoutNotOverStable', 'the claim timeout must be longer than the stable size interval', {
      path: remotePath,
      detail: `${timeoutSeconds} s <= ${stableSeconds} s`,
    });
  }
  const given = (def.claimId ?? '').trim();
  if (given !== '' && !INSTANCE_ID.test(given)) {
    throw new InputError('badClaimId', 'the instance id may hold only letters, digits, ".", "_" and "-"', { path: remotePath, detail: cleanText(given, 100) });
  }
  const userDir = RED.settings.userDir ?? '';
  const host = os.hostname().replace(/[^A-Za-z0-9.-]/gu, '').slice(0, 40) || 'node-red';
  const instance = given || `${host}-${createHash('sha256').update(userDir).digest('hex').slice(0, 8)}`;
  return { instance, timeoutSeconds };
}

/** The after-action of one message; a move needs a directory (EINVAL otherwise). */
async function afterActionFor(RED: NodeAPI, node: NodeInstance, def: PullDef, msg: NodeMessage, remotePath: string): Promise<AfterAction> {
  if (def.afterAction === 'delete') return { kind: 'delete' };
  if (def.afterAction !== 'move') return { kind: 'keep' };
  const value = await evaluateProperty(RED, node, def.moveTo ?? '', def.moveToType ?? 'str', msg);
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    const detail = typeof value === 'string' ? cleanText(JSON.stringify(value), 100) : describeValueType(value);
    throw new InputError('badMoveTo', 'the directory to move the files into must be a non-empty string', { path: remotePath, detail });
  }
  return { kind: 'move', directory: value };
}

/** The message for one file: remote path, size, mode and time of that file. */
function describeFile(msg: NodeMessage, file: TransferredFile): void {
  msg.remotePath = file.remotePath;
  msg.size = file.size;
  msg.mode = file.mode;
  if (file.mtime !== undefined) msg.mtime = file.mtime;
}

export = function register(RED: NodeAPI): void {
  function setUpDownload(node: NodeInstance, def: DownloadDef): void {
    const connectionNode = RED.nodes.getNode(def.connection);
    const connection = isScpConnectionNode(connectionNode) ? connectionNode : undefined;
    const targetKind: TargetKind = def.target ?? 'payload';
    const runner = new JobRunner(RED, node, 'scp-download', connection, def.progress === true);

    /** Several files into the payload: one message per file, with msg.parts (an incoming msg.parts nests). */
    const partMessages = (msg: NodeMessage, result: PayloadResult, scp: Record<string, unknown>): NodeMessage[] => {
      const id = RED.util.generateId();
      const count = result.files.length;
      const incomingParts = msg.parts;
      return result.files.map((file, index) => {
        const part = index === count - 1 ? msg : RED.util.cloneMessage(msg);
        if (index !== count - 1) delete part._msgid;
        part.payload = file.data ?? Buffer.alloc(0);
        describeFile(part, file);
        // As an object, a join node in automatic mode builds { name: Buffer } from the keys.
        const parts: Record<string, unknown> = def.partsAsObject === true ? { id, index, count, type: 'object', key: file.key } : { id, index, count, type: 'array' };
        if (incomingParts !== undefined) parts.parts = incomingParts;
        part.parts = parts;
        // The whole result once, on the last part, rather than a copy of the file list in every message.
        if (index === count - 1) part.scp = scp;
        else delete part.scp;
        return part;
      });
    };

    const prepare = async (msg: NodeMessage): Promise<PreparedJob> => {
      const remoteValue = await evaluateProperty(RED, node, def.remotePath ?? 'remotePath', def.remotePathType ?? 'msg', msg);
      const remote = remotePathFrom(remoteValue);
      const remotePath = remote.text;
      // No size cap by default on disk: a hostile server stays bounded by the file, directory and depth caps.
      const maxSizeMiB = positiveNumber(def.maxSize, targetKind === 'payload' ? DEFAULT_MAX_SIZE_MIB : 0, 'badMaxSize', targetKind !== 'payload');
      const maxFiles = positiveNumber(def.maxFiles, DEFAULT_MAX_FILES, 'badMaxFiles', false);
      const sizeCap = maxSizeMiB === 0 ? Number.MAX_SAFE_INTEGER : Math.floor(maxSizeMiB * MIB);
      let target: DownloadTarget;
      let localPath: string | undefined;
      if (targetKind === 'payload') {
        target = { kind: 'buffer', maxBytes: sizeCap };
      } else {
        const value = await evaluateProperty(RED, node, def.localPath ?? 'localPath', def.localPathType ?? 'msg', msg);
        if (value === undefined || value === null || value === '') throw new InputError('noLocalPath', 'the local path is empty', { path: remotePath });
        if (typeof value !== 'string') throw new InputError('badLocalPath', 'the local path must be a string', { path: remotePath, detail: describeValueType(value) });
        localPath = value;
        target = { kind: targetKind, path: value };
      }
      const severalFiles = def.recursive === true || def.glob === true;
      const settle = settleFor(def, msg);
      const request: DownloadRequest = {
        remotePath,
        target,
        recursive: def.recursive === true,
        glob: def.glob === true,
        preserve: targetKind === 'payload' ? false : def.preserve !== false,
        overwrite: def.overwrite ?? 'overwrite',
        createDirectory: def.createDirectory === true,
        afterAction: await afterActionFor(RED, node, def, msg, remotePath),
        settle,
        claim: claimFor(RED, def, remotePath, settle),
        ...(remote.bytes ? { remotePathBytes: remote.bytes } : {}),
        limits: {
          maxFileBytes: sizeCap,
          // In memory the cap is for everything kept; on disk it is per file.
          maxTotalBytes: targetKind === 'payload' ? sizeCap : Number.MAX_SAFE_INTEGER,
          maxFiles: Math.floor(maxFiles),
          maxDepth: MAX_DEPTH,
        },
      };
      const link = linkOptionsFrom(def, msg);
      if (link) request.link = link;
      /** One file (or a tree to disk): one message. */
      const single = async (run: RunJob, pullRecord: PullRecordOrder | undefined): Promise<JobOutput> => {
        const result = await run({ kind: 'download', request, several: false, ...(pullRecord ? { pullRecord } : {}) });
        const [first] = result.files;
        // A file skipped as unchanged has no content: the payload is null rather than an empty file.
        if (targetKind === 'payload') msg.payload = first?.unchanged === true ? null : (first?.data ?? Buffer.alloc(0));
        if (first !== undefined && result.files.length === 1) describeFile(msg, first);
        else msg.remotePath = remoteValue;
        if (localPath !== undefined) msg.localPath = localPath;
        msg.scp = { ...describeResult(result), ...pullCounts(result) };
        return { messages: [msg], bytes: result.bytes };
      };
      /** Several files into msg.payload: one message per file fetched. */
      const several = async (run: RunJob, pullRecord: PullRecordOrder | undefined): Promise<JobOutput> => {
        const result = await run({ kind: 'download', request, several: true, ...(pullRecord ? { pullRecord } : {}) });
        // Files skipped as unchanged carry no payload: only the fetched ones become parts.
        const fetched = { ...result, files: result.files.filter((file) => file.transferred) };
        const scp = { ...describeResult(result), ...pullCounts(result) };
        if (fetched.files.length > 0) return { messages: partMessages(msg, fetched, scp), bytes: result.bytes };
        msg.payload = [];
        msg.remotePath = remoteValue;
        msg.scp = scp;
        return { messages: [msg], bytes: result.bytes };
      };
      return {
        remotePath,
        execute: (run, device) => {
          const pullRecord = pullRecordOrder(RED, def, msg, device, remotePath);
          return targetKind === 'payload' && severalFiles ? several(run, pullRecord) : single(run, pullRecord);
        },
      };
    };

    node.on('input', (msg, send, done) => runner.handle(msg, send, done, prepare));
  }

  function ScpDownload(this: NodeInstance, def: DownloadDef): void {
    RED.nodes.createNode(this, def);
    setUpDownload(this, def);
  }

  RED.nodes.registerType('scp download', ScpDownload as (this: NodeInstance, def: never) => void);
};
