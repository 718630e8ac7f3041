/**
 * Outgoing packet buffers used again (src/ssh/packet-recycler.ts, hooked in by ssh2-internals.ts): a buffer
 * comes back only after the socket's write callback, with its header rewritten and fresh padding; never
 * across a re-key; and uploads through the real sshd stay byte-identical while nearly every packet buffer
 * is a recycled one (which also proves the hook still fits the installed ssh2), re-keys included.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { ClientChannel } from 'ssh2';
import { makeServerDir, runAsUser, sharedSshd, startSshd, type SshdServer } from '../harness';
import { SshConnection } from '../../src/ssh/connection';
import { PacketRecycler } from '../../src/ssh/packet-recycler';
import { recycleOutgoingPackets } from '../../src/ssh/ssh2-internals';
import { cryptoBindingAvailable } from '../../src/ssh/crypto-binding';
import { endpointFor } from './helpers';

const PAYLOAD = 32 * 1024 + 9;

/** What an SSH cipher's allocPacket returns: packet_length, padding_length, then room for the payload. */
function allocateLikeACipher(payloadLength: number): Buffer {
  // RFC 4253 section 6 with a 16-byte block and the length outside the encryption (AES-GCM), plus a 16-byte tag.
  let padding = 16 - ((1 + payloadLength) % 16);
  if (padding < 4) padding += 16;
  const packet = Buffer.alloc(4 + 1 + payloadLength + padding + 16, 0xee);
  packet.writeUInt32BE(1 + payloadLength + padding, 0);
  packet[4] = padding;
  return packet;
}

describe('ssh: outgoing packets (buffers recycled, writes gathered)', function () {
  this.timeout(120_000);

  describe('PacketRecycler', function () {
    it('hands a buffer out again only after it was written, with its header rewritten and new random padding', function () {
      const recycler = new PacketRecycler();
      let allocated = 0;
      const allocate = (length: number): Buffer => {
        allocated += 1;
        return allocateLikeACipher(length);
      };
      const first = recycler.packet(PAYLOAD, allocate);
      const header = Buffer.from(first.subarray(0, 5));
      const second = recycler.packet(PAYLOAD, allocate);
      assert.notEqual(second, first, 'a buffer still on its way to the socket was handed out again');
      assert.ok(recycler.isLent(first) && recycler.isLent(second));
      // The cipher encrypted it in place (header and padding too) and the socket wrote it.
      first.fill(0x55);
      recycler.written(first);
      assert.equal(recycler.isLent(first), false);
      const third = recycler.packet(PAYLOAD, allocate);
      assert.equal(third, first, 'a written buffer is used again');
      assert.deepEqual(third.subarray(0, 5), header, 'the header is the one the cipher wrote');
      const padding = third.subarray(5 + PAYLOAD, 5 + PAYLOAD + header[4]);
      assert.ok(padding.some((byte) => byte !== 0x55), 'the padding was filled again');
      assert.equal(allocated, 2);
      assert.deepEqual(recycler.stats, { fresh: 2, reused: 1, ciphers: 0 });
    });

    it('never takes back a buffer of the cipher before a re-key, nor a small or unknown packet', function () {
      const recycler = new PacketRecycler();
      const before = recycler.packet(PAYLOAD, allocateLikeACipher);
      recycler.reset();
      recycler.written(before);
      assert.notEqual(recycler.packet(PAYLOAD, allocateLikeACipher), before, 'a buffer of the old cipher came back');

      const small = recycler.packet(100, allocateLikeACipher);
      assert.equal(recycler.isLent(small), false, 'control packets keep their own buffers');

      // A buffer whose header does not describe it (another packet format) teaches nothing: no reuse.
      const odd = new PacketRecycler();
      const strange = (length: number): Buffer => Buffer.alloc(length + 40, 0);
      const one = odd.packet(PAYLOAD, strange);
      odd.written(one);
      assert.notEqual(odd.packet(PAYLOAD, strange), one);
      assert.equal(odd.stats.reused, 0);
    });
  });

  describe('hooked into ssh2', function () {
    it('leaves a client of another shape alone and says what is missing', function () {
      const socket = new net.Socket();
      const write = socket.write;
      const problems = recycleOutgoingPackets({ _protocol: null } as never, socket, new PacketRecycler());
      assert.deepEqual(problems, ['Client has no _protocol._cipher']);
      assert.equal(socket.write, write, 'the socket was changed anyway');

      const cipher = { allocPacket: allocateLikeACipher };
      const unknown = recycleOutgoingPackets({ _protocol: { _cipher: cipher } } as never, new net.Socket(), new PacketRecycler());
      assert.equal(cipher.allocPacket, allocateLikeACipher, "a cipher of unknown kind got the recycler's allocPacket");
      if (cryptoBindingAvailable()) assert.deepEqual(unknown, ["ssh2's cipher Object is not known to encrypt in place"]);
    });

    it('under back-pressure (writes held by the socket) no packet buffer is reused before its write completed', function () {
      // Shaped like ssh2's native AES-GCM cipher: allocPacket, then the caller writes the payload and the socket gets the buffer.
      class AESGCMCipherBinding {
        allocPacket(payloadLength: number): Buffer {
          return allocateLikeACipher(payloadLength);
        }
      }
      const protocol: { _cipher: AESGCMCipherBinding } = { _cipher: new AESGCMCipherBinding() };
      const socket = new net.Socket();
      const held: { chunk: Buffer; sentAs: Buffer; done: (error?: Error | null) => void }[] = [];
      socket.write = ((chunk: Buffer, done: (error?: Error | null) => void) => {
        held.push({ chunk, sentAs: Buffer.from(chunk), done });
        return false;
      }) as typeof socket.write;
      const recycler = new PacketRecycler();
      assert.deepEqual(recycleOutgoingPackets({ _protocol: protocol } as never, socket, recycler), []);
      const flush = (count: number): void => {
        for (const write of held.splice(0, count)) {
          assert.deepEqual(write.chunk, write.sentAs, 'a packet buffer changed while the socket still held it');
          write.done();
        }
      };
      for (let i = 0; i < 2_000; i += 1) {
        const packet = protocol._cipher.allocPacket(PAYLOAD);
        packet.fill(i % 251, 5, 5 + PAYLOAD);
        socket.write(packet);
        // The socket completes writes in bursts, sometimes none for a while.
        if (i % 7 === 0) flush(i % 3 === 0 ? held.length : 3);
      }
      flush(held.length);
      assert.ok(recycler.stats.reused > 1_000, `only ${recycler.stats.reused} reused`);
      // A re-key installs a new cipher: it gets the recycler too, starting afresh.
      protocol._cipher = new AESGCMCipherBinding();
      assert.notEqual(protocol._cipher.allocPacket, AESGCMCipherBinding.prototype.allocPacket);
      assert.equal(recycler.stats.ciphers, 2);
    });

    async function sendThrough(server: SshdServer, bytes: number): Promise<{ recycler: PacketRecycler; sent: string; received: string }> {
      const connection = await SshConnection.open(endpointFor(server, { privateKey: server.clientKey }));
      try {
        const dir = await makeServerDir(server, 'recycle');
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
          // The server reads slowly at first: packets queue in the socket while new ones are allocated.
          connection.client.exec(`sleep 0.3; cat > '${dir.relative}/data'`, (error, stream) => (error ? reject(error) : resolve(stream))),
        );
        // ssh2 emits 'close' only once the (empty) output was read.
        channel.resume();
        channel.stderr.resume();
        const closed = new Promise((resolve) => channel.on('close', resolve));
        const hash = createHash('sha256');
        // One reused buffer with new content each time: a packet buffer handed out too early would send stale bytes.
        const chunk = Buffer.allocUnsafe(256 * 1024);
        for (let sent = 0, round = 0; sent < bytes; sent += chunk.length, round += 1) {
          for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761 + round * 40503) >>> 0, i);
          hash.update(chunk);
          await new Promise<void>((resolve, reject) => channel.write(chunk, (error) => (error ? reject(error) : resolve())));
        }
        channel.end();
        await closed;
        const digest = await runAsUser(server, `sha256sum '${dir.relative}/data'`);
        return { recycler: connection.packets, sent: hash.digest('hex'), received: digest.stdout.toString().split(' ')[0] };
      } finally {
        await connection.end();
      }
    }

    it("hands the packets written in one event-loop turn to the socket together (one writev, not one write per packet)", async function () {
      const server = await sharedSshd();
      const connection = await SshConnection.open(endpointFor(server, { privateKey: server.clientKey }));
      try {
        const socket = (connection as unknown as { socket: net.Socket }).socket;
        const calls = { write: 0, writev: 0, chunks: 0 };
        const write = socket._write.bind(socket);
        const writev = socket._writev?.bind(socket);
        socket._write = (chunk, encoding, callback) => {
          calls.write += 1;
          write(chunk, encoding, callback);
        };
        socket._writev = (chunks, callback) => {
          calls.writev += 1;
          calls.chunks += chunks.length;
          writev?.(chunks, callback);
        };
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
          connection.client.exec('cat > /dev/null', (error, stream) => (error ? reject(error) : resolve(stream))),
        );
        channel.resume();
        const closed = new Promise((resolve) => channel.on('close', resolve));
        // 1 MiB in one write: ssh2 cuts it into 32 packets at once (the window is 2 MiB).
        channel.end(Buffer.alloc(1024 * 1024, 7));
        await closed;
        assert.ok(calls.writev >= 1 && calls.chunks >= 32, `packets went out one by one: ${JSON.stringify(calls)}`);
        assert.ok(calls.write + calls.writev < 16, `too many socket writes for 32 packets: ${JSON.stringify(calls)}`);
      } finally {
        await connection.end();
      }
    });

    it('uploads 64 MiB through the real sshd byte for byte while nearly every packet buffer is a recycled one', async function () {
      const { recycler, sent, received } = await sendThrough(await sharedSshd(), 64 * 1024 * 1024);
      assert.equal(received, sent, 'the server received other bytes than were sent');
      assert.ok(recycler.stats.reused > 1_800, `only ${recycler.stats.reused} packet buffers were reused (${recycler.stats.fresh} fresh)`);
      assert.ok(recycler.stats.fresh < recycler.stats.reused / 4, `${recycler.stats.fresh} fresh packet buffers for ${recycler.stats.reused} reused`);
    });

    it('stays byte-identical across re-keys (a server re-keying every MiB)', async function () {
      const server = await startSshd({ config: ['RekeyLimit 1M'] });
      try {
        const { recycler, sent, received } = await sendThrough(server, 24 * 1024 * 1024);
        assert.equal(received, sent, 'the server received other bytes than were sent');
        assert.ok(recycler.stats.ciphers > 8, `the server re-keyed only ${recycler.stats.ciphers - 1} times`);
        assert.ok(recycler.stats.reused > recycler.stats.fresh, `${recycler.stats.reused} reused, ${recycler.stats.fresh} fresh`);
      } finally {
        await server.stop();
      }
    });
  });
});
