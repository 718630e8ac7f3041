/**
 * A single-file upload over SCP in ONE exec channel (issue 10): instead of a probe shell, an `scp -t`
 * and a rename shell, one shell
 * 1. prints the probe's answer for the remote path and the path inside it (`SCP-PROBE:dn`), remembering
 *    whether the remote path is a directory from the very test it printed;
 * 2. picks the one of the two targets (walk/lone-upload.ts) that this answer implies: the client decides
 *    on the same answer, so both sides agree on where the file goes;
 * 3. runs `scp -t` on it. Nothing is created before the client sends a file record, and the client sends
 *    none when its overwrite policy refuses or skips the file (EOF alone ends scp with nothing written);
 * 4. atomic: once scp has ended well and the temporary exists, moves it onto its final name with the
 *    same function as the separate rename (remote-exec.ts renameFunction) and prints `SCP-PLACED:<letter>`;
 *    after a failure of scp it removes the temporary instead (`x`). A client that gives up before the
 *    file's data was acknowledged sends a fatal record first (`\x02`), so scp fails and nothing is placed.
 *    Without atomic the shell simply `exec`s scp: one process.
 * A missing scp leaves exit status 127 with no answer after the probe's, as a plain `scp -t` would.
 */
import { quoteForShellBytes } from '../../shell-quote';
import type { LoneTarget, LoneUpload } from '../walk/lone-upload';
import { MAX_COMMAND_BYTES } from './remote-exec';
import { PROBE_MARKER, renameFunction } from './shell-scripts';

/** The line the folded command prints after scp, before it exits. */
export const PLACED_MARKER = 'SCP-PLACED:';

/** What the placing part of the command printed: the rename's letters, x (scp failed), n (nothing sent). */
export const PLACED_LETTERS = /^[01edxn]$/u;

/** What the client sends to make the waiting `scp -t` fail, so that the shell does not place the file. */
export const STOP_RECORD = Buffer.from('\x02stopped by the client\n');

function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** `t=WIRE; f=FINAL;` for one target; a case without a target ends the command (the client refuses it). */
function choose(target: LoneTarget | undefined): Buffer {
  if (!target) return bytes(' exit 0;');
  return Buffer.concat([bytes(' t='), quoteForShellBytes(target.wirePath), bytes('; f='), quoteForShellBytes(target.finalPath), bytes(';')]);
}

/** The one-letter probe of one quoted path, as probeRemote prints it. */
function kindTest(quoted: Buffer): Buffer {
  return Buffer.concat([
    bytes(' if [ -d '),
    quoted,
    bytes(' ]; then printf d; elif [ -e '),
    quoted,
    bytes(' ] || [ -h '),
    quoted,
    bytes(' ]; then printf f; else printf n; fi;'),
  ]);
}

/**
 * The folded command for a single-file upload probing `paths` (the remote path first, then the path
 * inside it); undefined when it would be longer than one remote command may be (then the upload takes
 * the separate probe).
 */
export function foldedUploadCommand(paths: Buffer[], lone: LoneUpload): Buffer | undefined {
  const [first, ...rest] = paths.map((path) => quoteForShellBytes(path));
  const scp = `scp -t${lone.preserve ? ' -p' : ''} -- "$t"`;
  const parts = [
    bytes(`printf '${PROBE_MARKER}'; d=; if [ -d `),
    first,
    bytes(' ]; then d=1; printf d; elif [ -e '),
    first,
    bytes(' ] || [ -h '),
    first,
    bytes(' ]; then printf f; else printf n; fi;'),
    ...rest.map(kindTest),
    bytes(' echo; if [ -n "$d" ]; then'),
    choose(lone.intoDirectory),
    bytes(' else'),
    choose(lone.atPath),
    bytes(' fi;'),
    lone.atomic
      ? bytes(
          ` ${scp}; s=$?; if [ $s -eq 127 ]; then exit 127; fi; ${renameFunction(lone.replace)} printf '${PLACED_MARKER}'; ` +
            `if [ $s -ne 0 ]; then rm -f -- "$t"; printf x; elif [ -e "$t" ] || [ -h "$t" ]; then r "$t" "$f"; else printf n; fi; echo; exit $s`,
        )
      : bytes(` exec ${scp}`),
  ];
  const command = Buffer.concat(parts);
  return command.length <= MAX_COMMAND_BYTES ? command : undefined;
}
