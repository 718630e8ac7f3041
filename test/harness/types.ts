/** The shape every real test server (OpenSSH or Dropbear) has. */
export interface SshdServer {
  /** which server program this is */
  kind: 'openssh' | 'dropbear';
  host: '127.0.0.1';
  port: number;
  /** throwaway non-root user (shell /bin/sh, own home); the current user when the tests do not run as root */
  username: string;
  /** that user's password; empty when not running as root (password auth impossible then) */
  password: string;
  /** the user's home (absolute), writable by that user; relative remote paths resolve here */
  home: string;
  /** OpenSSH private key text (ed25519), no passphrase, authorized */
  clientKey: string;
  /** the file holding clientKey (mode 0600) */
  clientKeyPath: string;
  /** an authorized RSA key in OpenSSH format, encrypted with clientKeyPassphrase */
  clientKeyEncrypted: string;
  clientKeyEncryptedPath: string;
  clientKeyPassphrase: string;
  /** 'SHA256:...' of each of the server's host keys, as `ssh-keygen -l` prints them */
  hostKeyFingerprints: string[];
  /** "[127.0.0.1]:PORT <type> <base64>" for the first host key */
  knownHostsLine: string;
  /** one such line per host key */
  knownHostsLines: string[];
  /** graceful: SIGTERM to the listener and its sessions, waits for exit */
  stop(): Promise<void>;
  /** SIGKILL the listener and all its session processes */
  kill(): Promise<void>;
  /** start again on the same port with the same keys (stops first if still running) */
  restart(): Promise<void>;
  /** true while the listener process is alive */
  isRunning(): boolean;
  /** the server's log so far */
  logs(): string;
}
