/**
 * An ssh2 Server that records every authentication attempt, for what a real sshd will not show us:
 * that a client refused the host key before sending anything, and keyboard-interactive without PAM.
 */
import * as net from 'node:net';
import { Server, utils, type AuthContext, type Connection } from 'ssh2';
import { sshKeyPair } from '../harness';
import { fingerprintOf } from '../../src/ssh/fingerprint';

export interface RecordedAttempt {
  method: string;
  username: string;
  /** password or keyboard-interactive answers */
  secrets: string[];
}

export interface AuthRecorder {
  host: '127.0.0.1';
  port: number;
  username: string;
  hostKeyFingerprint: string;
  attempts: RecordedAttempt[];
  close(): Promise<void>;
}

export interface AuthRecorderOptions {
  /** methods offered to the client; default password */
  methods: ('password' | 'keyboard-interactive')[];
  password: string;
  /** keyboard-interactive prompts, asked in one round; default one hidden "Password: " */
  prompts?: { prompt: string; echo: boolean }[];
}

export async function startAuthRecorder(options: AuthRecorderOptions): Promise<AuthRecorder> {
  const hostKey = sshKeyPair();
  const parsedHostKey = utils.parseKey(hostKey.public);
  if (parsedHostKey instanceof Error) throw parsedHostKey;
  const attempts: RecordedAttempt[] = [];
  const sockets = new Set<net.Socket>();
  const prompts = options.prompts ?? [{ prompt: 'Password: ', echo: false }];

  const server = new Server({ hostKeys: [hostKey.private] }, (connection: Connection) => {
    connection.on('error', () => undefined);
    connection.on('authentication', (ctx: AuthContext) => {
      if (ctx.method === 'none') return ctx.reject(options.methods);
      const attempt: RecordedAttempt = { method: ctx.method, username: ctx.username, secrets: [] };
      attempts.push(attempt);
      if (ctx.method === 'password' && options.methods.includes('password')) {
        attempt.secrets.push(ctx.password);
        return ctx.password === options.password ? ctx.accept() : ctx.reject(options.methods);
      }
      if (ctx.method === 'keyboard-interactive' && options.methods.includes('keyboard-interactive')) {
        ctx.prompt(prompts, 'login', (answers: string[]) => {
          attempt.secrets.push(...answers);
          const ok = answers.length === prompts.length && answers.every((answer) => answer === options.password);
          if (ok) ctx.accept();
          else ctx.reject(options.methods);
        });
        return;
      }
      ctx.reject(options.methods);
    });
    connection.on('ready', () => {
      connection.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          if (info.command === 'freeze') {
            // Stop reading the connection: from now on the client hears nothing, not even keepalive replies.
            (connection as unknown as { _sock: net.Socket })._sock.pause();
            return;
          }
          channel.write(`ran ${info.command}\n`);
          channel.exit(0);
          channel.end();
        });
      });
    });
  });
  server.on('connection', () => undefined);
  const tcp = (server as unknown as { _srv: net.Server })._srv;
  tcp.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    host: '127.0.0.1',
    port,
    username: 'recorded',
    hostKeyFingerprint: fingerprintOf(parsedHostKey.getPublicSSH()),
    attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
