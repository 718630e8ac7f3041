/**
 * The engine behind the nodes: jobs as plain data, carried out in a worker thread of its own (host.ts,
 * worker-main.ts) or on the caller's thread (local-engine.ts). Nothing here knows Node-RED.
 */
export * from './types';
export { engine, engineHeapUsed, setEngine, workerEngineForTests, WorkerEngine } from './host';
export { LocalEngine, serverKey } from './local-engine';
