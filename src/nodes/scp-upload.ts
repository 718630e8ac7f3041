/**
 * scp upload: msg.payload (Buffer, string or readable stream) or local files/directories named by the
 * local path property, copied to the remote path. Output 1 is the incoming message with what was sent;
 * output 2 (optional) carries progress.
 */
import { Readable } from 'stream';
import type { OverwritePolicy, UploadRequest, UploadSource } from '../transfer';
import { isScpConnectionNode } from './connection-api';
import { InputError } from './input-error';
import { JobRunner, type PreparedJob } from './job-runner';
import { describeValueType, evaluateProperty, remotePathFrom } from './message-input';
import { describeResult } from './result';
import { linkOptionsFrom, type LinkDef } from './link-options';
import type { NodeAPI, NodeDef, NodeInstance, NodeMessage } from './red-types';

interface UploadDef extends NodeDef, LinkDef {
  connection: string;
  remotePath?: string;
  remotePathType?: string;
  localPath?: string;
  localPathType?: string;
  mode?: string;
  preserve?: boolean;
  atomic?: boolean;
  overwrite?: OverwritePolicy;
  progress?: boolean;
  /** follow symlinks found inside local directories (default off: skipped, listed in msg.scp.skipped) */
  followSymlinks?: boolean;
}

const MODE_PATTERN = /^0?[0-7]{3}$/;

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The local paths to send, or undefined when the property holds nothing (then the payload is the content). */
function localPathsOf(value: unknown): string[] | undefined {
  if (isNonEmptyString(value)) return [value];
  if (Array.isArray(value) && value.length > 0) {
    const badIndex = value.findIndex((item) => !isNonEmptyString(item));
    if (badIndex >= 0) {
      const bad: unknown = value[badIndex];
      const what = bad === '' ? 'an empty string' : describeValueType(bad);
      throw new InputError('badLocalPath', 'the local path list must hold only non-empty strings', { detail: `an array holding ${what}` });
    }
    return value;
  }
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return undefined;
  throw new InputError('badLocalPath', 'the local path must be a string or an array of strings', { detail: describeValueType(value) });
}

function contentSourceOf(payload: unknown, name: string | undefined): UploadSource {
  const named = name === undefined ? {} : { name };
  if (Buffer.isBuffer(payload)) return { kind: 'buffer', data: payload, ...named };
  if (typeof payload === 'string') return { kind: 'buffer', data: Buffer.from(payload, 'utf8'), ...named };
  if (payload instanceof Readable) return { kind: 'stream', stream: payload, ...named };
  throw new InputError('badPayload', 'msg.payload must be a Buffer, a string or a readable stream');
}

export = function register(RED: NodeAPI): void {
  function setUpUpload(node: NodeInstance, def: UploadDef): void {
    const connectionNode = RED.nodes.getNode(def.connection);
    const connection = isScpConnectionNode(connectionNode) ? connectionNode : undefined;
    const modeText = (def.mode ?? '').trim() || '0644';
    const runner = new JobRunner(RED, node, 'scp-upload', connection, def.progress === true);

    const prepare = async (msg: NodeMessage): Promise<PreparedJob> => {
      const remoteValue = await evaluateProperty(RED, node, def.remotePath ?? 'remotePath', def.remotePathType ?? 'msg', msg);
      const remote = remotePathFrom(remoteValue);
      if (!MODE_PATTERN.test(modeText)) throw new InputError('badMode', 'the mode must be octal, like 0644', { detail: modeText });
      const localValue = await evaluateProperty(RED, node, def.localPath ?? 'localPath', def.localPathType ?? 'msg', msg);
      const localPaths = localPathsOf(localValue);
      const filename = isNonEmptyString(msg.filename) ? msg.filename : undefined;
      const sources: UploadSource[] = localPaths
        ? localPaths.map((path) => ({ kind: 'path', path }))
        : [contentSourceOf(msg.payload, filename)];
      const request: UploadRequest = {
        sources,
        remotePath: remote.text,
        preserve: def.preserve === true,
        atomic: def.atomic !== false,
        overwrite: def.overwrite ?? 'overwrite',
        defaultMode: parseInt(modeText, 8),
        followSymlinks: def.followSymlinks === true,
      };
      const link = linkOptionsFrom(def, msg);
      if (link) request.link = link;
      if (remote.bytes) request.remotePathBytes = remote.bytes;
      return {
        remotePath: remote.text,
        execute: async (run) => {
          const result = await run({ kind: 'upload', request });
          msg.remotePath = remoteValue;
          msg.bytes = result.bytes;
          msg.scp = describeResult(result);
          return { messages: [msg], bytes: result.bytes };
        },
      };
    };

    node.on('input', (msg, send, done) => runner.handle(msg, send, done, prepare));
  }

  function ScpUpload(this: NodeInstance, def: UploadDef): void {
    RED.nodes.createNode(this, def);
    setUpUpload(this, def);
  }

  RED.nodes.registerType('scp upload', ScpUpload as (this: NodeInstance, def: never) => void);
};
