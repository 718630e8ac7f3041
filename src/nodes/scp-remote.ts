/**
 * scp remote: list, stat, delete, rename, mkdir, rmdir or chmod on the server of an scp-connection (the
 * same pool, device override, status and error codes as the copy nodes). The work is src/remote's; this
 * file reads the message and shapes the result: msg.payload is the entries (list), the entry or null
 * (stat), or one outcome per path (the changes, also on the message a Catch node gets).
 */
import { isPartialFailure, type RemoteEntry, type RemoteResult } from '../remote';
import { isScpConnectionNode } from './connection-api';
import { JobRunner, type PreparedJob } from './job-runner';
import { evaluateProperty } from './message-input';
import { operationOf, pathsFrom, remoteRequestOf, type RemoteDef } from './remote-input';
import type { NodeAPI, NodeDef, NodeInstance, NodeMessage } from './red-types';
import { TransferError } from '../errors';

interface ScpRemoteDef extends NodeDef, RemoteDef {
  connection: string;
  remotePath?: string;
  remotePathType?: string;
  newPath?: string;
  newPathType?: string;
}

/** What msg.scp says about the work (besides the device, which the runner adds). */
function describe(result: RemoteResult, operation: string): Record<string, unknown> {
  return {
    operation,
    transport: result.transport,
    durationMs: result.durationMs,
    ...(result.listed !== undefined ? { listed: result.listed } : {}),
    ...(result.skipped ? { skipped: result.skipped } : {}),
  };
}

export = function register(RED: NodeAPI): void {
  function setUpRemote(node: NodeInstance, def: ScpRemoteDef): void {
    const connectionNode = RED.nodes.getNode(def.connection);
    const connection = isScpConnectionNode(connectionNode) ? connectionNode : undefined;
    const runner = new JobRunner(RED, node, 'scp-remote', connection, false);

    const prepare = async (msg: NodeMessage): Promise<PreparedJob> => {
      const operation = operationOf(def, msg);
      const remoteValue = await evaluateProperty(RED, node, def.remotePath ?? 'remotePath', def.remotePathType ?? 'msg', msg);
      const paths = pathsFrom(remoteValue);
      const newPaths =
        operation === 'rename' ? pathsFrom(await evaluateProperty(RED, node, def.newPath ?? 'newPath', def.newPathType ?? 'msg', msg), 'noNewPath').bytes : undefined;
      const request = remoteRequestOf(def, msg, operation, paths.bytes, newPaths);
      const shown = paths.texts.length === 1 ? (paths.texts[0] as string) : `${paths.texts[0] as string} (+${paths.texts.length - 1})`;
      return {
        remotePath: shown,
        execute: async (run, device) => {
          let result: RemoteResult;
          try {
            result = await run({ kind: 'remote', request });
          } catch (error) {
            // The Catch node gets every path's outcome, not only the first failure.
            if (isPartialFailure(error)) msg.payload = error.outcomes;
            throw error;
          }
          msg.scp = describe(result, operation);
          let doneText: string;
          if (operation === 'list') {
            msg.payload = result.entries ?? [];
            doneText = `${(result.entries ?? []).length}`;
          } else if (operation === 'stat') {
            const entry: RemoteEntry | null = result.entries?.[0] ?? null;
            if (!entry && def.absentIsError === true) {
              throw new TransferError('ENOENT', 'nothing is at the remote path', { host: device.label, path: shown });
            }
            msg.payload = entry;
            msg.exists = entry !== null;
            doneText = entry ? entry.type : '∅';
          } else {
            msg.payload = result.outcomes ?? [];
            doneText = `${(result.outcomes ?? []).length}`;
          }
          return { messages: [msg], bytes: 0, doneText };
        },
      };
    };

    node.on('input', (msg, send, done) => runner.handle(msg, send, done, prepare));
  }

  function ScpRemote(this: NodeInstance, def: ScpRemoteDef): void {
    RED.nodes.createNode(this, def);
    setUpRemote(this, def);
  }

  RED.nodes.registerType('scp remote', ScpRemote as (this: NodeInstance, def: never) => void);
};
