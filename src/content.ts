/**
 * What an upload's content can be, shared by the SCP sender (src/scp/source.ts) and the local reader
 * (src/transfer/local/local-content.ts): chunks of a stream, and content that reads itself into a buffer.
 */
/**
 * Content that reads itself into the caller's buffer, like a local file read with `fh.read()`: sendFile
 * then reads it into two buffers it reuses (one is read while the other is sent) instead of taking a
 * fresh buffer per chunk from a stream. Resolves with the bytes read, 0 at the end.
 */
export interface SelfReadingContent {
  readInto(buffer: Buffer, length: number): Promise<number>;
}

export function readsItself(content: unknown): content is SelfReadingContent {
  return typeof (content as Partial<SelfReadingContent> | null)?.readInto === 'function';
}

/**
 * The bytes of one chunk a local or caller's stream yielded (Buffer, string, Uint8Array); undefined for
 * anything else, such as the values of an object-mode stream, which have no bytes to send.
 */
export function chunkAsBuffer(chunk: unknown): Buffer | undefined {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}
