/**
 * The one glob dialect of remote patterns (the last component of a download's remote path), parsed once
 * into a small program that serves all three uses: matching the names an SFTP listing gives, checking the
 * names an SCP server sends (CVE-2019-6111), and rendering the word the remote shell expands for `scp -f`.
 *
 * The dialect is POSIX pathname expansion in the C locale, byte for byte, so that every POSIX shell a
 * server may run as the login shell (dash, bash, busybox ash) expands the rendered word exactly as the
 * matcher decides:
 * - `*` any run of bytes, `?` exactly one byte (a non-ASCII character is 2-4 bytes in UTF-8);
 * - `[...]` one byte out of a set of ASCII characters: single characters, ranges `a-z` (by byte value),
 *   classes `[:digit:]` etc.; `[!...]` or `[^...]` the complement (any byte, ASCII or not, outside the
 *   set); `]` first in the set and `-` first or last are literal; a `[` without its `]` is literal;
 * - `\` makes the next character literal (also inside brackets); a trailing `\` is literal;
 * - a leading `.` of a name is only matched by a literal `.` at the start of the pattern;
 * - `.` and `..` never match.
 * Refused (EINVAL): an empty pattern, `/` or NUL, a non-ASCII character inside brackets (dash compares
 * bytes, bash characters), an unknown `[:class:]`, a reversed range.
 *
 * The shell is given a canonical rendering, not the user's text: literal runs single-quoted, brackets
 * rewritten from the parsed set, so the shells' disagreements (`[^`, escapes, collating symbols, quoted
 * range ends) never come into play. The remote command around it (src/scp/glob-command.ts) sets the C
 * locale, neutralises shell options that change globbing, and drops `.`/`..`.
 */
import { TransferError } from './errors';
import { quoteForShellBytes } from './shell-quote';

const DOT = 0x2e;
const SLASH = '/';

/** One step of a parsed pattern; `literal` is one byte, `set` one byte out of an ASCII set (or not in it). */
type Token =
  | { kind: 'literal'; byte: number }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'set'; negate: boolean; members: boolean[] };

/** The POSIX character classes, in the C locale (ASCII only). */
const CLASSES: Record<string, (code: number) => boolean> = {
  alnum: (c) => isDigit(c) || isUpper(c) || isLower(c),
  alpha: (c) => isUpper(c) || isLower(c),
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: (c) => isDigit(c),
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: (c) => isLower(c),
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => c > 0x20 && c < 0x7f && !isDigit(c) && !isUpper(c) && !isLower(c),
  space: (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  upper: (c) => isUpper(c),
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}
function isUpper(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}
function isLower(code: number): boolean {
  return code >= 0x61 && code <= 0x7a;
}

class Parser {
  constructor(
    private readonly chars: string[],
    private readonly pattern: string,
    private readonly host: string | undefined,
  ) {}

  refuse(problem: string): TransferError {
    return new TransferError('EINVAL', `the glob pattern ${problem}`, { ...(this.host === undefined ? {} : { host: this.host }), path: this.pattern });
  }

  tokens(): Token[] {
    const tokens: Token[] = [];
    const literal = (char: string): void => {
      for (const byte of Buffer.from(char, 'utf8')) tokens.push({ kind: 'literal', byte });
    };
    for (let at = 0; at < this.chars.length; at += 1) {
      const char = this.chars[at];
      if (char === '\\' && at + 1 < this.chars.length) {
        at += 1;
        literal(this.chars[at]);
      } else if (char === '*') {
        // Consecutive stars mean what one does; one keeps the matcher's backtracking simple.
        if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
      } else if (char === '?') {
        tokens.push({ kind: 'any' });
      } else if (char === '[') {
        const parsed = this.bracket(at);
        if (parsed === null) literal(char);
        else {
          tokens.push(parsed.token);
          at = parsed.end;
        }
      } else {
        literal(char);
      }
    }
    return tokens;
  }

  /** A bracket expression opening at `open`; null when no `]` closes it (then the `[` is literal). */
  private bracket(open: number): { token: Token; end: number } | null {
    const chars = this.chars;
    const members: boolean[] = new Array<boolean>(128).fill(false);
    let at = open + 1;
    const negate = chars[at] === '!' || chars[at] === '^';
    if (negate) at += 1;
    const first = at;
    while (at < chars.length) {
      if (chars[at] === ']' && at > first) return { token: { kind: 'set', negate, members }, end: at };
      if (chars[at] === '[' && chars[at + 1] === ':') {
        const close = chars.indexOf(':', at + 2);
        if (close > 0 && chars[close + 1] === ']') {
          const name = chars.slice(at + 2, close).join('');
          const test = Object.prototype.hasOwnProperty.call(CLASSES, name) ? CLASSES[name] : undefined;
          if (test === undefined) throw this.refuse(`names an unknown character class [:${name}:]`);
          for (let code = 0; code < 128; code += 1) if (test(code)) members[code] = true;
          at = close + 2;
          continue;
        }
      }
      const low = this.member(at);
      if (low === null) return null;
      at = low.next;
      if (chars[at] === '-' && at + 1 < chars.length && chars[at + 1] !== ']') {
        const high = this.member(at + 1);
        if (high === null) return null;
        if (high.code < low.code) throw this.refuse(`has a reversed range ${chars[low.next - 1]}-${chars[high.next - 1]}`);
        for (let code = low.code; code <= high.code; code += 1) members[code] = true;
        at = high.next;
        continue;
      }
      members[low.code] = true;
    }
    return null;
  }

  /** One character inside brackets (a `\` escapes the next); null when the pattern ends first. */
  private member(at: number): { code: number; next: number } | null {
    let char = this.chars[at];
    if (char === '\\') {
      at += 1;
      char = this.chars[at];
    }
    if (char === undefined) return null;
    const code = char.codePointAt(0) ?? 0;
    if (code > 0x7f) {
      throw this.refuse(`has the non-ASCII character ${char} inside brackets (a bracket matches one byte; use * or ? instead)`);
    }
    return { code, next: at + 1 };
  }
}

/** A parsed pattern: match names, render the shell word. */
export class Glob {
  private constructor(
    readonly pattern: string,
    private readonly tokens: Token[],
  ) {}

  /** Parses `pattern` once; a bad pattern is a TransferError EINVAL naming the problem (and `host`). */
  static parse(pattern: string, host?: string): Glob {
    const parser = new Parser(Array.from(pattern), pattern, host);
    if (pattern === '') throw parser.refuse('is empty');
    if (pattern.includes(SLASH) || pattern.includes('\0')) {
      throw parser.refuse('must be one path component (no "/", no NUL): only the last part of the remote path may be a pattern');
    }
    return new Glob(pattern, parser.tokens());
  }

  /** True when the pattern has a wildcard or bracket (not only literal characters). */
  get isPattern(): boolean {
    return this.tokens.some((token) => token.kind !== 'literal');
  }

  /** Does the (raw byte) name match? Strings are taken as UTF-8. */
  matches(name: Buffer | string): boolean {
    const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
    if (bytes.length === 0) return false;
    if (bytes[0] === DOT) {
      if (bytes.length === 1 || (bytes.length === 2 && bytes[1] === DOT)) return false;
      const first = this.tokens[0];
      if (first?.kind !== 'literal' || first.byte !== DOT) return false;
    }
    const tokens = this.tokens;
    // Single-backtrack wildcard matching: on a mismatch only the last star takes one more byte, which is
    // exact for `*`-only wildcards and linear in practice (no exponential blow-up on many stars).
    let t = 0;
    let b = 0;
    let starToken = -1;
    let starByte = 0;
    while (b < bytes.length) {
      const token = tokens[t];
      if (token?.kind === 'star') {
        starToken = t;
        starByte = b;
        t += 1;
        continue;
      }
      if (token !== undefined && matchesByte(token, bytes[b])) {
        t += 1;
        b += 1;
        continue;
      }
      if (starToken < 0) return false;
      t = starToken + 1;
      starByte += 1;
      b = starByte;
    }
    while (tokens[t]?.kind === 'star') t += 1;
    return t === tokens.length;
  }

  /**
   * The pattern as one word for a POSIX shell: literal bytes single-quoted, `*` and `?` bare, each set as
   * a canonical bracket expression (see renderSet). Only what the matcher treats as a wildcard is one.
   */
  shellWord(): Buffer {
    const parts: Buffer[] = [];
    let literal: number[] = [];
    const flush = (): void => {
      if (literal.length === 0) return;
      parts.push(quoteForShellBytes(Buffer.from(literal)));
      literal = [];
    };
    for (const token of this.tokens) {
      if (token.kind === 'literal') {
        literal.push(token.byte);
        continue;
      }
      flush();
      if (token.kind === 'star') parts.push(Buffer.from('*'));
      else if (token.kind === 'any') parts.push(Buffer.from('?'));
      else parts.push(Buffer.from(renderSet(token.negate, token.members), 'latin1'));
    }
    flush();
    return Buffer.concat(parts);
  }
}

function matchesByte(token: Exclude<Token, { kind: 'star' }>, byte: number): boolean {
  switch (token.kind) {
    case 'literal':
      return token.byte === byte;
    case 'any':
      return true;
    case 'set':
      return (byte < 128 && token.members[byte]) !== token.negate;
  }
}

function isAlnum(code: number): boolean {
  return isDigit(code) || isUpper(code) || isLower(code);
}

/**
 * A set as a bracket expression every POSIX shell reads alike: `!` for negation (dash takes `[^` as a
 * literal `^`); `]` first and `-` last, bare (their one unambiguous place); runs of 3+ letters or digits
 * as ranges (both ends alphanumeric and of one kind, so no quoted range ends); every other character
 * backslash-escaped (so `!`, `^`, `[`, space, quotes, `$` and braces are plain members), except a
 * newline, which a backslash would join to the next line: it is single-quoted.
 */
function renderSet(negate: boolean, members: boolean[]): string {
  let body = '';
  for (let code = 0; code < 128; code += 1) {
    // NUL and `/` are never in a name; in the word, a NUL would end the command and a `/` split the path.
    if (!members[code] || code === 0 || code === 0x2f || code === 0x5d || code === 0x2d) continue;
    let end = code;
    while (end + 1 < 128 && members[end + 1] && sameKind(code, end + 1)) end += 1;
    if (isAlnum(code) && end - code >= 2) {
      body += `${String.fromCharCode(code)}-${String.fromCharCode(end)}`;
      code = end;
      continue;
    }
    const char = String.fromCharCode(code);
    if (isAlnum(code)) body += char;
    else if (code === 0x0a) body += "'\n'";
    else body += `\\${char}`;
  }
  return `[${negate ? '!' : ''}${members[0x5d] ? ']' : ''}${body}${members[0x2d] ? '-' : ''}]`;
}

function sameKind(a: number, b: number): boolean {
  return (isDigit(a) && isDigit(b)) || (isUpper(a) && isUpper(b)) || (isLower(a) && isLower(b));
}

/** Does `name` match `pattern` (see Glob)? A bad pattern throws EINVAL. */
export function matchGlob(pattern: string, name: Buffer | string): boolean {
  return Glob.parse(pattern).matches(name);
}
