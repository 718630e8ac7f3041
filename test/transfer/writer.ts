/**
 * A remote writer for the pull tests of issue 16: a shell loop, run as the server's user, that appends
 * numbered lines (`000000001\n`, ...) to a file, ten at a time every few milliseconds, until told to stop, each append opening
 * the file by its name (as `>>` in a logging script does). It starts from the line after the file's last
 * one, so a test can seed the file first. `stop` ends it and says how many lines exist in all, so a test can
 * check that every line written is somewhere: in the local copy or still on the server.
 */
import * as crypto from 'node:crypto';
import { join } from 'node:path';
import { runAsUser, type SshdServer } from '../harness';
import { sq } from './support';

export interface Writer {
  /** stops the loop; resolves with the number of lines written in all (seeded ones included) */
  stop(): Promise<number>;
}

/** `file` is absolute; it must exist and hold `seeded` lines (0 to seeded-1) already. */
export async function startWriter(server: SshdServer, file: string, seeded = 0): Promise<Writer> {
  // In the user's home, outside any folder a test pulls (the user may not write to /tmp here).
  const stopFile = join(server.home, `.scp-writer-stop-${crypto.randomBytes(6).toString('hex')}`);
  // Ten lines per append, then a short pause: enough to change the file all the time without taking a core
  // of a machine the tests share.
  const append = `printf '%09d\\n' $i $((i+1)) $((i+2)) $((i+3)) $((i+4)) $((i+5)) $((i+6)) $((i+7)) $((i+8)) $((i+9)) >> ${sq(file)}`;
  const loop = `i=${seeded}; while [ ! -e ${sq(stopFile)} ]; do ${append}; i=$((i+10)); sleep 0.01; done; echo $i`;
  const running = runAsUser(server, loop);
  return {
    stop: async () => {
      const touched = await runAsUser(server, `touch ${sq(stopFile)}`);
      if (touched.code !== 0) throw new Error(`cannot tell the writer to stop: ${touched.stderr}`);
      const result = await running;
      await runAsUser(server, `rm -f ${sq(stopFile)}`);
      if (result.code !== 0) throw new Error(`the writer failed: ${result.stderr}`);
      return Number(result.stdout.toString().trim());
    },
  };
}

/** The lines `000000000` to `count-1`, as the writer writes them. */
export function linesUpTo(count: number): string {
  let text = '';
  for (let i = 0; i < count; i += 1) text += `${String(i).padStart(9, '0')}\n`;
  return text;
}
