/**
 * Shared plumbing for the node tests: the Node-RED test helper with our three nodes loaded from dist/
 * (what Node-RED really loads), flows built around a connection to a harness server, and a way to send
 * one message and wait for its result, its error (through a Catch node) or both outputs.
 */
import type { SshdServer } from '../harness';
import { allNodes, collectorNodes, connectionNode, downloadNode, helper, uploadNode, useNodeRed as useRed } from '../support/red';

export { allNodes, helper, nodeRedUserDir, scpConnection, scpDownload, scpUpload } from '../support/red';

export type Msg = Record<string, unknown>;

/** Starts the helper's server once per file; Node-RED's user directory (TOFU store) is a temp dir. */
export function useNodeRed(): void {
  useRed('nodes-userdir');
}

export interface ConnectionOptions {
  id?: string;
  port?: number;
  hostKeyPolicy?: 'tofu' | 'fingerprint' | 'known_hosts' | 'any';
  [key: string]: unknown;
}

/** An scp-connection to the server, pinned to its host key unless a policy is given. */
export function connectionDef(server: SshdServer, options: ConnectionOptions = {}): Record<string, unknown> {
  return connectionNode(server, options);
}

export function uploadDef(props: Record<string, unknown> = {}): Record<string, unknown> {
  return uploadNode(props);
}

export function downloadDef(props: Record<string, unknown> = {}): Record<string, unknown> {
  return downloadNode(props);
}

/** The collecting nodes every flow has: `out` (results), `progress`, and a Catch node feeding `err`. */
export function sinks(): Record<string, unknown>[] {
  return collectorNodes('tests', 'err');
}

export async function loadFlow(nodes: Record<string, unknown>[], credentials: Record<string, Record<string, string>> = {}): Promise<void> {
  await helper.load(allNodes, [...nodes, ...sinks()], credentials);
}

export interface Outcome {
  results: Msg[];
  progress: Msg[];
  error?: Msg;
}

/**
 * Sends `msg` to node `id` and waits until it is answered: `expectResults` messages on `out`, or one on `err`.
 * Progress messages seen meanwhile are collected too.
 */
export function send(id: string, msg: Msg, expectResults = 1): Promise<Outcome> {
  const outcome: Outcome = { results: [], progress: [] };
  const out = helper.getNode('out');
  const progress = helper.getNode('progress');
  const err = helper.getNode('err');
  return new Promise((resolve) => {
    const finish = (): void => {
      out.removeAllListeners('input');
      progress.removeAllListeners('input');
      err.removeAllListeners('input');
      resolve(outcome);
    };
    out.on('input', (m: Msg) => {
      outcome.results.push(m);
      if (outcome.results.length >= expectResults) setImmediate(finish);
    });
    progress.on('input', (m: Msg) => {
      outcome.progress.push(m);
    });
    err.on('input', (m: Msg) => {
      outcome.error = m;
      setImmediate(finish);
    });
    helper.getNode(id).receive(msg);
  });
}

/** The error code a Catch node saw, or a readable failure when the message succeeded instead. */
export function errorCode(outcome: Outcome): unknown {
  if (!outcome.error) return `no error (results: ${outcome.results.length})`;
  return (outcome.error.error as { code?: unknown }).code;
}

export function resultOf(outcome: Outcome, index = 0): Msg {
  if (outcome.error) {
    const error = outcome.error.error as { code?: unknown; message?: unknown };
    throw new Error(`expected a result, got error ${String(error.code)}: ${String(error.message)}`);
  }
  return outcome.results[index];
}
