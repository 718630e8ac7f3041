/**
 * Authentication: every configured method is prepared (key files read, keys parsed and decrypted)
 * BEFORE the connection opens, so a wrong passphrase or a missing file never costs the server a login
 * attempt. The ssh2 `authHandler` then walks the methods in an explicit order, each tried once.
 */
import { promises as fs } from 'node:fs';
import { utils, type AuthenticationType, type AuthHandlerMiddleware, type NextAuthHandler, type ParsedKey } from 'ssh2';
import { TransferError } from '../errors';
import { cleanText } from '../text';
import type { AuthConfig, AuthMethodName, SshEndpoint, WarnFunction } from './types';

export const DEFAULT_AUTH_ORDER: readonly AuthMethodName[] = ['agent', 'publickey', 'password', 'keyboard-interactive'];

export type PreparedMethod =
  | { name: 'agent'; socket: string }
  | { name: 'publickey'; key: ParsedKey }
  | { name: 'password'; password: string }
  | { name: 'keyboard-interactive'; password: string };

export interface PreparedAuth {
  methods: PreparedMethod[];
}

/** The SSH method name the server lists for each of ours (the agent offers public keys). */
const WIRE_NAME: Record<AuthMethodName, string> = {
  agent: 'publickey',
  publickey: 'publickey',
  password: 'password',
  'keyboard-interactive': 'keyboard-interactive',
};

export function endpointLabel(endpoint: Pick<SshEndpoint, 'username' | 'host' | 'port'>): string {
  return `${endpoint.username}@${endpoint.host}:${endpoint.port}`;
}

/** Errors found in the local configuration before any connection (they cost the server nothing). */
const localErrors = new WeakSet<Error>();

export function isLocalAuthError(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (localErrors.has(current)) return true;
  }
  return false;
}

/** Reads and parses what the configuration names; throws EAUTH/ENOENT naming the file, never its content. */
export async function prepareAuth(endpoint: SshEndpoint, warn?: WarnFunction): Promise<PreparedAuth> {
  try {
    return await prepareMethods(endpoint, warn);
  } catch (error) {
    if (error instanceof Error) localErrors.add(error);
    throw error;
  }
}

async function prepareMethods(endpoint: SshEndpoint, warn?: WarnFunction): Promise<PreparedAuth> {
  const auth: AuthConfig = endpoint.auth ?? {};
  // user@host:port, as the pool names the endpoint in every other error: which user failed matters here.
  const host = endpointLabel(endpoint);
  const order = (auth.order && auth.order.length > 0 ? auth.order : DEFAULT_AUTH_ORDER).filter(
    (name, index, all) => DEFAULT_AUTH_ORDER.includes(name) && all.indexOf(name) === index,
  );
  const methods: PreparedMethod[] = [];
  let agentProblem: TransferError | undefined;

  for (const name of order) {
    switch (name) {
      case 'agent': {
        if (!auth.agent) break;
        const socket = auth.agent === 'env' ? process.env.SSH_AUTH_SOCK : auth.agent;
        if (!socket) {
          agentProblem = new TransferError('EAUTH', 'ssh-agent authentication is configured but SSH_AUTH_SOCK is not set', { host });
          break;
        }
        methods.push({ name, socket });
        break;
      }
      case 'publickey': {
        if (auth.privateKey === undefined && auth.privateKeyPath === undefined) break;
        if (auth.privateKey === '' && !auth.privateKeyPath) break;
        methods.push({ name, key: await loadPrivateKey(auth, host) });
        break;
      }
      case 'password':
        if (typeof auth.password === 'string' && auth.password !== '') methods.push({ name, password: auth.password });
        break;
      case 'keyboard-interactive':
        if (auth.keyboardInteractive && typeof auth.password === 'string' && auth.password !== '') {
          methods.push({ name, password: auth.password });
        }
        break;
    }
  }
  if (agentProblem) {
    if (methods.length === 0) throw agentProblem;
    warn?.(`${agentProblem.summary}; trying the other methods for ${endpointLabel(endpoint)}`, {
      code: 'agentUnavailable',
      values: { host: endpointLabel(endpoint), detail: agentProblem.summary },
    });
  }
  if (methods.length === 0) {
    throw new TransferError('EAUTH', `no authentication method is configured for ${endpointLabel(endpoint)}`, { host });
  }
  return { methods };
}

async function loadPrivateKey(auth: AuthConfig, host: string): Promise<ParsedKey> {
  let text: string;
  let source: string;
  if (auth.privateKey) {
    text = auth.privateKey;
    source = 'the configured private key';
  } else {
    const file = auth.privateKeyPath as string;
    source = `private key file ${file}`;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new TransferError('ENOENT', `${source} does not exist`, { host, path: file });
      throw new TransferError('EAUTH', `${source} cannot be read${code ? ` (${code})` : ''}`, { host, path: file });
    }
  }
  const passphrase = auth.passphrase ? auth.passphrase : undefined;
  let parsed = utils.parseKey(text, passphrase);
  if (parsed instanceof Error) {
    // Parse once more without the passphrase to tell "encrypted, wrong passphrase" from "not a key".
    const plain = passphrase === undefined ? parsed : utils.parseKey(text);
    if (!(plain instanceof Error)) {
      // ssh2 mixes a given passphrase into the MAC of an unencrypted PuTTY key and then refuses it; a
      // passphrase left filled in for a key that has none must not lock the user out.
      parsed = plain;
    } else if (/passphrase|encrypted/i.test(plain.message) || /passphrase/i.test(parsed.message)) {
      throw new TransferError('EAUTH', `${source} could not be decrypted: wrong or missing passphrase`, { host });
    }
  }
  if (parsed instanceof Error) {
    const putty = unsupportedPuttyKey(text);
    if (putty) throw new TransferError('EAUTH', `${source} ${putty}`, { host });
    throw new TransferError('EAUTH', `${source} is not a private key ssh2 can read (OpenSSH, PEM or PuTTY)`, {
      host,
      detail: cleanText(parsed.message, 120),
    });
  }
  // Some formats can hold several keys; OpenSSH's stores one, which is the one we use.
  const key: unknown = Array.isArray(parsed) ? (parsed as unknown[])[0] : parsed;
  if (!isParsedKey(key) || !key.isPrivateKey()) {
    throw new TransferError('EAUTH', `${source} holds a public key, not a private key`, { host });
  }
  return key;
}

/**
 * ssh2 reads PuTTY keys only in the version 2 format and only for ssh-rsa and ssh-dss; PuTTYgen writes
 * version 3 by default since PuTTY 0.75. Names the problem from the key's first line (its format and
 * algorithm, never key material) so the user knows which export to make.
 */
function unsupportedPuttyKey(text: string): string | undefined {
  const header = /^\s*PuTTY-User-Key-File-(\d{1,3}):[ \t]*([^\r\n]*)/.exec(text);
  if (!header) return undefined;
  const version = header[1] as string;
  const algorithm = cleanText(header[2] as string, 40);
  if (version !== '2') {
    return (
      `is a PuTTY key in the PPK version ${version} format, which is not supported: export it from PuTTYgen as ` +
      'PPK version 2 (Key > Parameters for saving key files) or in OpenSSH format (Conversions > Export OpenSSH key)'
    );
  }
  if (algorithm !== 'ssh-rsa' && algorithm !== 'ssh-dss') {
    return `is a PuTTY ${algorithm} key, which is supported only in OpenSSH format (PuTTY keys must be ssh-rsa or ssh-dss): export it from PuTTYgen in OpenSSH format`;
  }
  return undefined;
}

function isParsedKey(value: unknown): value is ParsedKey {
  return typeof value === 'object' && value !== null && typeof (value as ParsedKey).isPrivateKey === 'function';
}

export interface AuthSession {
  handler: AuthHandlerMiddleware;
  /** methods actually offered to the server, in order */
  tried(): AuthMethodName[];
  /** every method the configuration made usable, in order */
  configured(): AuthMethodName[];
  /** methods the server said it accepts, when it said so (server text, cleaned) */
  serverMethods(): string[] | null;
  /** true once every method has been tried and refused */
  exhausted(): boolean;
}

/** Builds the ssh2 authHandler for one connection. */
export function createAuthSession(prepared: PreparedAuth, username: string): AuthSession {
  const tried: AuthMethodName[] = [];
  let next = 0;
  let allowed: string[] | null = null;
  let exhausted = false;
  let askedServer = false;

  const handler = (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, callback: NextAuthHandler): void => {
    if (!askedServer) {
      // A "none" request first, as OpenSSH does: the server answers with the methods it accepts, so we never
      // spend an attempt (MaxAuthTries, PerSourcePenalties) on one it does not offer. It is not counted as a failure.
      askedServer = true;
      callback({ type: 'none', username });
      return;
    }
    if (Array.isArray(methodsLeft)) allowed = methodsLeft.map((name) => cleanText(String(name), 40));
    while (next < prepared.methods.length) {
      const method = prepared.methods[next++];
      // Skip what the server told us it will not accept: each refused attempt counts against MaxAuthTries.
      if (allowed && !allowed.includes(WIRE_NAME[method.name])) continue;
      tried.push(method.name);
      callback(toSsh2(method, username));
      return;
    }
    exhausted = true;
    (callback as unknown as (next: false) => void)(false);
  };

  return {
    handler: handler as unknown as AuthHandlerMiddleware,
    tried: () => [...tried],
    configured: () => prepared.methods.map((method) => method.name),
    serverMethods: () => (allowed ? [...allowed] : null),
    exhausted: () => exhausted,
  };
}

function toSsh2(method: PreparedMethod, username: string): Parameters<NextAuthHandler>[0] {
  switch (method.name) {
    case 'agent':
      return { type: 'agent', username, agent: method.socket };
    case 'publickey':
      return { type: 'publickey', username, key: method.key };
    case 'password':
      return { type: 'password', username, password: method.password };
    case 'keyboard-interactive': {
      let answered = false;
      return {
        type: 'keyboard-interactive',
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) => {
          // Answer the first round whose prompts all hide their input, once; never type the password into
          // an echoed prompt, and never repeat it to a server that keeps asking.
          const hidden = prompts.length > 0 && prompts.every((prompt) => prompt.echo !== true);
          if (!answered && hidden) {
            answered = true;
            finish(prompts.map(() => method.password));
          } else {
            finish(prompts.map(() => ''));
          }
        },
      };
    }
  }
}

/** "authentication failed for user@host:port (tried: publickey, password)" */
export function authFailedError(endpoint: SshEndpoint, session: AuthSession | undefined, serverDetail?: string): TransferError {
  const tried = session?.tried() ?? [];
  const allowed = session?.serverMethods();
  const detailParts = [allowed ? `server accepts: ${allowed.join(', ') || 'nothing'}` : '', serverDetail ?? ''].filter(Boolean);
  const summary =
    tried.length > 0
      ? `authentication failed for ${endpointLabel(endpoint)} (tried: ${tried.join(', ')})`
      : `authentication failed for ${endpointLabel(endpoint)}: the server accepts none of the configured methods (${(session?.configured() ?? []).join(', ')})`;
  return new TransferError('EAUTH', summary, {
    host: endpointLabel(endpoint),
    ...(detailParts.length ? { detail: detailParts.join('; ') } : {}),
  });
}
