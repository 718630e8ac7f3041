/**
 * The test fixtures: mocha hooks for the servers a describe needs and the one poller. Node-RED's fixtures
 * (`useNodeRed`, node definitions) are in ./red, imported on their own: loading them loads Node-RED.
 */
export { eventually, type EventuallyOptions } from './eventually';
export { lateBound, type LateBound } from './late';
export { shiftClock, type ShiftedClock } from './clock';
export { seededRandom } from './random';
export { useOwnSshd, useSharedSshd, useScriptedScpServer, useScriptedSftpServer, useServerDir, useFakeExecServer, type OwnSshdOptions, type ScriptedExec, type Scripted } from './servers';
export { useSshdWithPool, type SshdWithPool } from './pools';
export { useSshdPerTest } from './per-test-sshd';
export { startedProxy } from './proxies';
export { ByteQueue } from './byte-queue';
