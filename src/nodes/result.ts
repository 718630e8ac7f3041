/** What the result message says about a finished job (msg.scp). */

/** The result for msg.scp: the TransferResult without file contents. */
export function describeResult<T extends { files: Array<{ data?: Buffer }> }>(result: T): T {
  return { ...result, files: result.files.map(({ data: _data, ...file }) => file) };
}
