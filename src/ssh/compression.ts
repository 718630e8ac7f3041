/** What `ssh -C` asks for, kept beside the engine that negotiates it (the nodes turn a checkbox into this list). */
import type { CompressionAlgorithm } from 'ssh2';

/** OpenSSH's delayed zlib first, plain zlib for older servers, none if neither. */
export const COMPRESSION_ALGORITHMS: CompressionAlgorithm[] = ['zlib@openssh.com', 'zlib', 'none'];
