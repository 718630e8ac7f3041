/**
 * Matching a server-sent name against the user's glob (the last path component), so a server can not
 * slip in files the pattern does not cover (CVE-2019-6111). POSIX sh pattern rules: `*`, `?`, `[...]`
 * (with `!`/`^` negation and ranges), backslash escapes, and a leading '.' only matched by a literal '.'.
 */

type Token =
  | { kind: 'literal'; char: string }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'class'; negate: boolean; singles: Set<string>; ranges: [string, string][] };

/** Parses a bracket expression starting at `open` ('['); null when it is not terminated (then '[' is literal). */
function parseClass(chars: string[], open: number): { token: Token; end: number } | null {
  let at = open + 1;
  let negate = false;
  if (chars[at] === '!' || chars[at] === '^') {
    negate = true;
    at += 1;
  }
  const singles = new Set<string>();
  const ranges: [string, string][] = [];
  let first = true;
  while (at < chars.length) {
    let char = chars[at];
    if (char === ']' && !first) return { token: { kind: 'class', negate, singles, ranges }, end: at };
    first = false;
    if (char === '\\' && at + 1 < chars.length) {
      at += 1;
      char = chars[at];
    }
    if (chars[at + 1] === '-' && at + 2 < chars.length && chars[at + 2] !== ']') {
      let last = chars[at + 2];
      let skip = 2;
      if (last === '\\' && at + 3 < chars.length) {
        last = chars[at + 3];
        skip = 3;
      }
      ranges.push([char, last]);
      at += skip + 1;
      continue;
    }
    singles.add(char);
    at += 1;
  }
  return null;
}

function tokenize(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let at = 0; at < chars.length; at += 1) {
    const char = chars[at];
    if (char === '\\' && at + 1 < chars.length) {
      at += 1;
      tokens.push({ kind: 'literal', char: chars[at] });
    } else if (char === '*') {
      tokens.push({ kind: 'star' });
    } else if (char === '?') {
      tokens.push({ kind: 'any' });
    } else if (char === '[') {
      const parsed = parseClass(chars, at);
      if (parsed === null) tokens.push({ kind: 'literal', char });
      else {
        tokens.push(parsed.token);
        at = parsed.end;
      }
    } else {
      tokens.push({ kind: 'literal', char });
    }
  }
  return tokens;
}

function matchesOne(token: Token, char: string, atStart: boolean): boolean {
  // A leading '.' (hidden file) is only matched by a literal '.', as the shell does.
  if (atStart && char === '.' && token.kind !== 'literal') return false;
  switch (token.kind) {
    case 'literal':
      return token.char === char;
    case 'any':
      return true;
    case 'class': {
      const point = char.codePointAt(0) ?? 0;
      const inside =
        token.singles.has(char) ||
        token.ranges.some(([low, high]) => point >= (low.codePointAt(0) ?? 0) && point <= (high.codePointAt(0) ?? 0));
      return inside !== token.negate;
    }
    case 'star':
      return false;
  }
}

/** True when `name` matches the POSIX sh glob `pattern`. */
export function matchGlob(pattern: string, name: string): boolean {
  const tokens = tokenize(pattern);
  const chars = Array.from(name);
  let t = 0;
  let c = 0;
  // Classic single-backtrack wildcard matching: linear in practice, no exponential blow-up on many stars.
  let starToken = -1;
  let starChar = 0;
  while (c < chars.length) {
    const token = tokens[t];
    if (token !== undefined && token.kind === 'star' && !(c === 0 && chars[0] === '.')) {
      starToken = t;
      starChar = c;
      t += 1;
      continue;
    }
    if (token !== undefined && token.kind !== 'star' && matchesOne(token, chars[c], c === 0)) {
      t += 1;
      c += 1;
      continue;
    }
    if (starToken >= 0) {
      t = starToken + 1;
      starChar += 1;
      c = starChar;
      continue;
    }
    return false;
  }
  while (t < tokens.length && tokens[t].kind === 'star') t += 1;
  return t === tokens.length;
}

/** True when the pattern contains an unescaped glob character (*, ? or a bracket expression). */
export function hasGlobCharacters(pattern: string): boolean {
  return tokenize(pattern).some((token) => token.kind !== 'literal');
}
