/**
 * Scripted SSH servers for what a real server will not do: hostile or malformed SCP replies, stalls,
 * faults in the middle of a stream. Built on ssh2's Server; every exec request goes to the test's handler,
 * which writes the reply byte by byte (or never).
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { Connection, ServerChannel, Server, SFTPWrapper, utils } from 'ssh2';
import { fingerprintOfPublicKeyLine, publicKeyTypeAndBlob } from './keys';

export interface FakeExecRequest {
  /** the command line exactly as the client sent it */
  command: string;
  /** the accepted exec channel: write stdout to it, stderr to channel.stderr, then exit(code) and end() */
  channel: ServerChannel;
  /** the user name the client authenticated as */
  username: string;
  /** the SSH connection (e.g. to end() it, or destroy its socket via `end`) */
  connection: Connection;
  /** 1 for the first connection the server accepted, 2 for the next, ... */
  connectionNumber: number;
}

export type FakeExecHandler = (request: FakeExecRequest) => void | Promise<void>;

export interface FakeSftpRequest {
  sftp: SFTPWrapper;
  username: string;
  connection: Connection;
  connectionNumber: number;
}

export interface FakeServerOptions {
  /** the password accepted for any user name; default 'fake'; null refuses password auth */
  password?: string | null;
  /** accept any public key whose signature verifies (default true), or decide per key */
  acceptPublicKey?: boolean | ((key: { algo: string; data: Buffer }) => boolean);
  /** answer `sftp` subsystem requests; without it they are refused */
  sftp?: (request: FakeSftpRequest) => void;
  /** refuse exec requests for which this returns true (the client sees a failed channel request) */
  rejectExec?: (command: string) => boolean;
  /** refuse an `sftp` subsystem request when this returns true (as a server that failed to start sftp-server) */
  rejectSftp?: () => boolean;
  /** ssh2 server ident, e.g. 'OpenSSH_9.2' (default ssh2's own) */
  ident?: string;
  /** OpenSSH private key text for the host key (default: a new ed25519 key), e.g. to keep it across servers */
  hostKey?: string;
  /** listen on this port instead of a free one */
  port?: number;
}

export interface FakeServer {
  host: '127.0.0.1';
  port: number;
  /** the password it accepts ('' when refused) */
  password: string;
  /** OpenSSH private key text the server accepts (any key is accepted by default; this is a convenient one) */
  clientKey: string;
  /** OpenSSH private key text of the host key (pass it as options.hostKey to get the same key again) */
  hostKey: string;
  /** 'SHA256:...' of the fake server's host key */
  hostKeyFingerprint: string;
  hostKeyFingerprints: string[];
  knownHostsLine: string;
  /** every exec command received, in order */
  commands: string[];
  /** errors thrown by the handler (also printed); a test can assert this is empty */
  handlerErrors: Error[];
  /** connections accepted so far */
  connectionCount(): number;
  /**
   * Freezes every connection open now, as a hung server or a dead link would: nothing they carry is read
   * or answered any more (no channel data, no channel close, no keepalive reply). Later connections work.
   */
  freeze(): void;
  /** stops listening and destroys every client socket at once */
  close(): Promise<void>;
}

/** An ssh2 Server on 127.0.0.1:<free port> with a host key generated for it. */
export async function startFakeServer(handler: FakeExecHandler, options: FakeServerOptions = {}): Promise<FakeServer> {
  const hostKey = options.hostKey ? keyPairOf(options.hostKey) : sshKeyPair();
  const client = sshKeyPair();
  const password = options.password === undefined ? 'fake' : options.password;
  const commands: string[] = [];
  const handlerErrors: Error[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;

  const sshServer = new Server({ hostKeys: [hostKey.private], ...(options.ident ? { ident: options.ident } : {}) });
  sshServer.on('connection', (connection: Connection) => {
    const connectionNumber = ++connections;
    let username = '';
    connection.on('error', () => undefined);
    connection.on('authentication', (ctx) => {
      username = ctx.username;
      if (ctx.method === 'password' && password !== null && ctx.password === password) return ctx.accept();
      if (ctx.method === 'publickey' && publicKeyAllowed(options.acceptPublicKey, ctx.key)) {
        // No signature: the client only asks whether the key would do. With one: it must verify.
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        const parsed = utils.parseKey(ctx.key.data);
        if (!(parsed instanceof Error) && parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      ctx.reject(password === null ? ['publickey'] : ['publickey', 'password']);
    });
    connection.on('ready', () => {
      connection.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('error', () => undefined);
        session.on('env', (accept) => accept?.());
        session.on('exec', (accept, reject, info) => {
          commands.push(info.command);
          if (options.rejectExec?.(info.command)) return reject();
          const channel = accept();
          channel.on('error', () => undefined);
          channel.stderr.on('error', () => undefined);
          const report = (err: unknown): void => {
            const error = err instanceof Error ? err : new Error(String(err));
            handlerErrors.push(error);
            process.stderr.write(`[harness] fake server handler failed: ${error.stack ?? error.message}\n`);
            channel.close();
          };
          try {
            Promise.resolve(handler({ command: info.command, channel, username, connection, connectionNumber })).catch(report);
          } catch (err) {
            report(err);
          }
        });
        session.on('sftp', (accept, reject) => {
          if (!options.sftp || options.rejectSftp?.()) return reject();
          const sftp = accept();
          sftp.on('error', () => undefined);
          options.sftp({ sftp, username, connection, connectionNumber });
        });
      });
    });
  });

  const tcpServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    sshServer.injectSocket(socket);
  });
  const port = await listenOnLoopback(tcpServer, options.port ?? 0);
  const publicLine = publicKeyTypeAndBlob(hostKey.public);
  const fingerprint = fingerprintOfPublicKeyLine(publicLine);
  return {
    host: '127.0.0.1',
    port,
    password: password ?? '',
    clientKey: client.private,
    hostKey: hostKey.private,
    hostKeyFingerprint: fingerprint,
    hostKeyFingerprints: [fingerprint],
    knownHostsLine: `[127.0.0.1]:${port} ${publicLine}`,
    commands,
    handlerErrors,
    connectionCount: () => connections,
    freeze: () => {
      for (const socket of sockets) socket.pause();
    },
    close: () => closeAll(tcpServer, sockets),
  };
}

export interface SilentServer {
  host: '127.0.0.1';
  port: number;
  /** TCP connections accepted so far */
  connectionCount(): number;
  close(): Promise<void>;
}

/** Accepts TCP connections and never sends a byte: for connect/handshake timeouts. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const tcpServer = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    // Read and discard, so the client's banner does not sit in a buffer; never answer.
    socket.resume();
  });
  const port = await listenOnLoopback(tcpServer);
  return { host: '127.0.0.1', port, connectionCount: () => connections, close: () => closeAll(tcpServer, sockets) };
}

/**
 * A key pair from ssh2's generator that ssh2 itself can read back. Its ed25519 keys strip leading zero
 * bytes from the public key, so about 1 in 256 cannot be parsed (mscdex/ssh2 #1390): such a pair is drawn
 * again instead of failing whichever test got it ("Malformed OpenSSH private key", seen under load).
 */
export function sshKeyPair(type: 'ed25519' | 'ecdsa' = 'ed25519', options: { comment?: string } = {}): { private: string; public: string } {
  for (;;) {
    const pair = type === 'ecdsa' ? utils.generateKeyPairSync('ecdsa', { bits: 256, ...options }) : utils.generateKeyPairSync('ed25519', options);
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

/** A fresh ed25519 key pair in OpenSSH format (e.g. a key no server accepts). */
export function generateTestKey(): { privateKey: string; publicKey: string; fingerprint: string } {
  const pair = sshKeyPair('ed25519', { comment: `scp-test-${crypto.randomBytes(3).toString('hex')}` });
  return { privateKey: pair.private, publicKey: pair.public, fingerprint: fingerprintOfPublicKeyLine(pair.public) };
}

function publicKeyAllowed(
  policy: FakeServerOptions['acceptPublicKey'],
  key: { algo: string; data: Buffer },
): boolean {
  if (policy === undefined || policy === true) return true;
  if (policy === false) return false;
  return policy(key);
}

function keyPairOf(privateKey: string): { private: string; public: string } {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`hostKey is not a usable private key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return { private: privateKey, public: `${key.type} ${key.getPublicSSH().toString('base64')}` };
}

function listenOnLoopback(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeAll(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
