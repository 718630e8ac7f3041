/** The part of ssh2-sftp-client (a devDependency of the benchmark, without its own types) the bench uses. */
declare module 'ssh2-sftp-client' {
  export default class SftpClient {
    connect(options: { host: string; port: number; username: string; privateKey: string; readyTimeout?: number }): Promise<unknown>;
    fastPut(localPath: string, remotePath: string): Promise<string>;
    fastGet(remotePath: string, localPath: string): Promise<string>;
    end(): Promise<boolean>;
  }
}
