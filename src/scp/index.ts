/**
 * The SCP wire protocol (OpenSSH's `scp -t` / `scp -f`) over plain Node streams: command building with
 * shell quoting, the record codec, and the source (upload) / sink (download) state machines that treat
 * everything the server says as hostile. No ssh2, no Node-RED.
 */
export { buildScpCommand, type ScpCommandOptions } from './scp-command';
export {
  encodeRecord,
  parseRecord,
  codeForServerMessage,
  unsafeNameReason,
  DEFAULT_RECORD_LIMITS,
  type ScpRecord,
  type ScpTimes,
  type RecordLimits,
} from './records';
export type { ScpStreams, ScpSessionOptions, ScpStepResult, ScpFinish } from './types';
export { ScpSource, type ScpSourceFile, type ScpSourceDirectory } from './source';
export { chunkAsBuffer, readsItself, type SelfReadingContent } from '../content';
export { definitelyNoScp, isNoScpError, type ScpProtocolError } from './no-scp';
export { buildScpGlobCommand, globListScript, type GlobRun } from './glob-command';
export { ScpSink, type SinkExpectation, type SinkLimits, type SinkEntry, type ScpSinkOptions } from './sink';
