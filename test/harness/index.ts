/**
 * The test harness: real OpenSSH and Dropbear servers on 127.0.0.1 with a throwaway user, scripted fake
 * servers for what a real server will not do, and helpers to look at the server's filesystem.
 */
export type { SshdServer } from './types';
export type { HostKeyType } from './keys';
export type { CommandResult } from './exec';
export { startSshd, type SshdOptions } from './sshd';
export { sharedSshd } from './shared';
export { runAsUser, serverPath, makeServerDir } from './user-commands';
export { makeTempDir } from './tmp';
export { requireRealServers, skipOrFail, needThrowawayUser } from './requirements';
export { isRoot } from './user';
export { fingerprintOfPublicKeyLine } from './keys';
export { startDropbear, type DropbearOptions } from './dropbear';
export {
  startFakeServer,
  startSilentServer,
  generateTestKey,
  sshKeyPair,
  type FakeServer,
  type FakeServerOptions,
  type FakeExecHandler,
  type FakeExecRequest,
  type FakeSftpRequest,
  type SilentServer,
} from './fake';
export { unfolding, unfoldUpload, serveFolded, foldedProbeCount, FOLDED_PREFIX, type UnfoldedUpload } from './folded';
export { startDante, startTinyproxy, type ProxyServer, type DanteOptions, type TinyproxyOptions } from './proxies';
export { startThrottledRelay, type ThrottledRelay } from './relay';
export { logText } from './log-text';
