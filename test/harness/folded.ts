/**
 * The engine sends a single-file SCP upload as ONE command (src/transfer/scp/folded-upload.ts): a shell
 * that prints the probe's answer, picks the target, runs `scp -t` there and, atomic, moves the temporary
 * into place. Fake servers that play `scp -t` themselves wrap their handler in `unfolding(handler)`: the
 * probe and the placing parts then run for real in the local /bin/sh (the fakes' "remote" file system is
 * the local one), and the handler sees the plain `scp -t [-p] -- '<target>'` it always saw. Its
 * `exit(code)` is scp's status; its `end()` or `close()` runs the placing part before the real end.
 */
import { execFile } from 'node:child_process';
import type { ServerChannel } from 'ssh2';
import type { FakeExecHandler, FakeExecRequest } from './fake';

/** How every folded upload command starts (the probe of the remote path). */
export const FOLDED_PREFIX = "printf 'SCP-PROBE:'; d=;";
const SCP_PART = /(exec )?(scp -t(?: -p)?) -- "\$t"/gu;

export interface UnfoldedUpload {
  /** the probe and the choice of `t` (target) and `f` (final path) */
  head: string;
  /** `scp -t` or `scp -t -p` */
  scp: string;
  /** `exec scp ...`: nothing runs after scp (not atomic) */
  exec: boolean;
  /** what runs after scp: `; s=$?; ...` (empty with exec) */
  tail: string;
}

/** The parts of a folded upload command, or undefined for any other command. */
export function unfoldUpload(command: string): UnfoldedUpload | undefined {
  if (!command.startsWith(FOLDED_PREFIX)) return undefined;
  const last = [...command.matchAll(SCP_PART)].at(-1);
  if (!last || last.index === undefined) return undefined;
  return { head: command.slice(0, last.index), scp: last[2], exec: last[1] !== undefined, tail: command.slice(last.index + last[0].length) };
}

/** How many paths a folded command probes (a scripted fake answers with that many letters). */
export function foldedProbeCount(command: string): number {
  const parts = unfoldUpload(command);
  if (!parts) throw new Error(`not a folded upload command: ${command.slice(0, 80)}`);
  return parts.head.split(' then printf f; else printf n; fi;').length - 1;
}

function sh(command: string): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], { encoding: 'buffer' }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0 });
    });
  });
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs a folded upload command, `scp` playing the `scp -t` part (see the module comment). */
export async function serveFolded(request: FakeExecRequest, scp: FakeExecHandler): Promise<void> {
  const parts = unfoldUpload(request.command);
  if (!parts) throw new Error(`not a folded upload command: ${request.command.slice(0, 80)}`);
  const { channel } = request;
  const head = await sh(`${parts.head} printf '\\0%s' "$t"`);
  const nul = head.stdout.indexOf(0);
  channel.write(nul < 0 ? head.stdout : head.stdout.subarray(0, nul));
  if (head.stderr.length > 0) channel.stderr.write(head.stderr);
  if (nul < 0) {
    // the case without a target: the command ended after the probe
    channel.exit(head.code);
    channel.end();
    return;
  }
  const target = head.stdout.subarray(nul + 1).toString('utf8');
  let status = 0;
  let ended = false;
  const end = async (): Promise<void> => {
    if (ended) return;
    ended = true;
    if (parts.exec) {
      channel.exit(status);
      channel.end();
      return;
    }
    // The head again (its probe line is dropped: it was sent already), then the placing part with scp's status.
    const tail = await sh(`${parts.head} (exit ${status})${parts.tail}`);
    const probeEnd = tail.stdout.indexOf(0x0a);
    channel.write(tail.stdout.subarray(probeEnd + 1));
    if (tail.stderr.length > 0) channel.stderr.write(tail.stderr);
    channel.exit(tail.code);
    channel.end();
  };
  const played = new Proxy(channel, {
    get(real, property) {
      if (property === 'exit') {
        return (code: unknown) => {
          status = typeof code === 'number' ? code : 1;
          return true;
        };
      }
      if (property === 'end' || property === 'close') {
        return () => {
          void end();
          return real;
        };
      }
      const value: unknown = Reflect.get(real, property, real);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
    },
  }) as ServerChannel;
  await scp({ ...request, command: `${parts.scp} -- ${quote(target)}`, channel: played });
}

/** A fake's exec handler that also understands folded upload commands (the handler plays scp in them). */
export function unfolding(handler: FakeExecHandler): FakeExecHandler {
  return (request) => (unfoldUpload(request.command) ? serveFolded(request, handler) : handler(request));
}
