/** ssh2-sftp-client's fastPut/fastGet (parallel SFTP reads and writes) over one connection kept open. */
import SftpClient from 'ssh2-sftp-client';
import type { SshdServer } from '../../test/harness';
import { inProcess, type Contender } from './types';

export async function sftpClientContender(server: SshdServer): Promise<Contender> {
  const client = new SftpClient();
  await client.connect({ host: server.host, port: server.port, username: server.username, privateKey: server.clientKey, readyTimeout: 20_000 });
  return {
    name: 'ssh2-sftp-client',
    recursive: false,
    copy: (job) => inProcess(() => (job.direction === 'up' ? client.fastPut(job.local, job.remote) : client.fastGet(job.remote, job.local))),
    close: async () => {
      await client.end();
    },
  };
}
