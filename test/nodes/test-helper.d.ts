// The few parts of node-red-node-test-helper (no published types) that the node tests use.
declare module 'node-red-node-test-helper' {
  interface SinonSpyCall {
    args: unknown[];
    thisValue: unknown;
  }
  interface SinonSpy {
    getCalls(): SinonSpyCall[];
    callCount: number;
  }
  interface RequestChain {
    post(url: string): RequestChain;
    get(url: string): RequestChain;
    send(body: unknown): RequestChain;
    set(header: string, value: string): RequestChain;
    expect(status: number): Promise<{ body: unknown; text: string; status: number }>;
  }
  interface TestHelper {
    init(nodeRedRuntime: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings: Record<string, unknown>): Record<string, unknown>;
    startServer(done: (err?: unknown) => void): void;
    stopServer(done: (err?: unknown) => void): void;
    load(nodes: unknown[], flow: object[], credentials?: Record<string, Record<string, string>>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
    setFlows(flow: object[], type?: string, credentials?: Record<string, Record<string, string>>): Promise<void>;
    clearFlows(): Promise<void>;
    request(): RequestChain;
    log(): SinonSpy;
  }
  const helper: TestHelper;
  export = helper;
}
