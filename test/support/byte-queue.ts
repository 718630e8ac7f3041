/**
 * The bytes one side of a scripted exchange received, taken in order by the script: exactly n bytes, or one
 * line; each wait ends when the bytes are there or the sender ended. Shared by the scripted SCP peer
 * (test/scp/peer.ts, in-memory streams) and the fake server's channel side (test/hostile/server-side.ts).
 */
export class ByteQueue {
  private received = Buffer.alloc(0);
  private ended = false;
  private waiters: (() => void)[] = [];

  /** @param sender who sends the bytes, for the errors when it ends too early ('client', 'the session') */
  constructor(private readonly sender: string) {}

  push(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    this.wake();
  }

  /** The sender ended (EOF or close): waits for more bytes now fail. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private async until(test: () => boolean): Promise<void> {
    while (!test()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The next `n` bytes; throws when the sender ends first (the script then stops). */
  async take(n: number): Promise<Buffer> {
    await this.until(() => this.received.length >= n || this.ended);
    if (this.received.length < n) throw new Error(`${this.sender} ended after ${this.received.length} of ${n} bytes`);
    const out = Buffer.from(this.received.subarray(0, n));
    this.received = this.received.subarray(n);
    return out;
  }

  /** One line, without its '\n'; throws when the sender ends inside it. */
  async takeLine(encoding: BufferEncoding): Promise<string> {
    await this.until(() => this.received.includes(0x0a) || this.ended);
    const at = this.received.indexOf(0x0a);
    if (at < 0) throw new Error(`${this.sender} ended inside a line`);
    const line = this.received.subarray(0, at).toString(encoding);
    this.received = this.received.subarray(at + 1);
    return line;
  }

  /** Resolves once the sender ended; returns what it sent but nobody took. */
  async whenEnded(): Promise<Buffer> {
    await this.until(() => this.ended);
    return this.received;
  }
}
