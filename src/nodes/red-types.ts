/**
 * The small part of Node-RED's runtime API these nodes use. `@types/node-red` is not a dependency, so the
 * shapes are declared here: only what the nodes call, typed as Node-RED 4 actually provides it.
 */
import type { EventEmitter } from 'events';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

/** A message: any object; `_msgid` is set by the runtime. */
export type NodeMessage = Record<string, unknown> & { _msgid?: string };

/** Properties every node definition has in flows.json. */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
}

export type SendFunction = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type DoneFunction = (err?: Error) => void;

export interface NodeInstance<Credentials = Record<string, string | undefined>> extends EventEmitter {
  id: string;
  type: string;
  name?: string;
  credentials: Credentials;
  status(status: NodeStatus | Record<string, never>): void;
  send(msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>): void;
  log(text: string): void;
  warn(text: string): void;
  error(text: string | Error, msg?: NodeMessage): void;
  debug(text: string): void;
  on(event: 'input', listener: (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void): this;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): this;
  on(event: string, listener: (...args: never[]) => void): this;
}

export type EvaluateCallback = (err: Error | null, value: unknown) => void;

export interface RequestLike {
  params: Record<string, string>;
  body: unknown;
}
export interface ResponseLike {
  status(code: number): ResponseLike;
  json(body: unknown): void;
  send(body?: unknown): void;
}
export type Middleware = (req: RequestLike, res: ResponseLike, next: () => void) => void;

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType(
      type: string,
      constructor: (this: NodeInstance, def: never) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
    getNode(id: string): NodeInstance | null;
    getCredentials(id: string): Record<string, string | undefined> | undefined;
  };
  util: {
    evaluateNodeProperty(value: string, type: string, node: NodeInstance, msg: NodeMessage, callback: EvaluateCallback): void;
    generateId(): string;
    cloneMessage<T extends NodeMessage>(msg: T): T;
  };
  settings: { userDir?: string };
  httpAdmin: { post(path: string, ...handlers: Middleware[]): void };
  auth: { needsPermission(permission: string): Middleware };
  _(key: string, substitutions?: Record<string, unknown>): string;
}
