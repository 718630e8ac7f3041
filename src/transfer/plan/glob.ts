/**
 * Remote globbing as an explicit feature: only the last path component may be a pattern, and only
 * `*`, `?` and simple bracket expressions (`[abc]`, `[a-z]`, `[!x]`) stay unquoted for the remote
 * shell; every other character is single-quoted, so a pattern can never run a command. The same
 * pattern is matched locally (SFTP listings, and names the SCP server returns) with shell semantics.
 */
import { TransferError } from '../../errors';

/** A bracket expression we pass to the shell unquoted: only these characters inside. */
const SAFE_BRACKET = /^\[!?\]?[A-Za-z0-9._\-^]*\]/u;

interface Token {
  kind: 'literal' | 'star' | 'any' | 'class';
  text: string;
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  let literal = '';
  const pushLiteral = (): void => {
    if (literal) tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < pattern.length; ) {
    const char = pattern[i];
    if (char === '*' || char === '?') {
      pushLiteral();
      tokens.push({ kind: char === '*' ? 'star' : 'any', text: char });
      i += 1;
      continue;
    }
    if (char === '[') {
      const match = SAFE_BRACKET.exec(pattern.slice(i));
      if (match && match[0].length > 2 && !(match[0] === '[!]')) {
        pushLiteral();
        tokens.push({ kind: 'class', text: match[0] });
        i += match[0].length;
        continue;
      }
    }
    literal += char;
    i += 1;
  }
  pushLiteral();
  return tokens;
}

export function hasGlobCharacters(pattern: string): boolean {
  return tokenize(pattern).some((token) => token.kind !== 'literal');
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/gu, `'\\''`)}'`;
}

/** The pattern for a remote `sh`: literal runs quoted, wildcards bare. */
export function globForShell(pattern: string, host: string): Buffer {
  if (pattern === '' || pattern.includes('/') || pattern.includes('\0')) {
    throw new TransferError('EINVAL', 'a glob pattern must be one non-empty path component', { host, path: pattern });
  }
  const tokens = tokenize(pattern);
  // A leading wildcard next to a leading "-" is harmless: the command puts "--" before the path.
  return Buffer.from(tokens.map((token) => (token.kind === 'literal' ? quoteLiteral(token.text) : token.text)).join(''), 'utf8');
}

function classMatches(text: string, char: string): boolean {
  let body = text.slice(1, -1);
  let negate = false;
  if (body.startsWith('!') || body.startsWith('^')) {
    negate = true;
    body = body.slice(1);
  }
  let found = false;
  for (let i = 0; i < body.length; i += 1) {
    if (i + 2 < body.length && body[i + 1] === '-') {
      if (char >= body[i] && char <= body[i + 2]) found = true;
      i += 2;
    } else if (body[i] === char) {
      found = true;
    }
  }
  return found !== negate;
}

/** Shell-style match of one name (a leading "." must be matched literally, as sh does). */
export function matchGlob(pattern: string, name: string): boolean {
  const tokens = tokenize(pattern);
  const chars = Array.from(name);
  if (chars[0] === '.' && !(tokens[0]?.kind === 'literal' && tokens[0].text.startsWith('.'))) return false;
  const memo = new Map<string, boolean>();
  const match = (t: number, c: number): boolean => {
    const key = `${t}:${c}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (t === tokens.length) result = c === chars.length;
    else {
      const token = tokens[t];
      if (token.kind === 'star') result = match(t + 1, c) || (c < chars.length && match(t, c + 1));
      else if (token.kind === 'any') result = c < chars.length && match(t + 1, c + 1);
      else if (token.kind === 'class') result = c < chars.length && classMatches(token.text, chars[c]) && match(t + 1, c + 1);
      else {
        const literal = Array.from(token.text);
        result = literal.every((ch, i) => chars[c + i] === ch) && match(t + 1, c + literal.length);
      }
    }
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}
