/**
 * What 'auto' learned about a connection (a ChannelProvider), shared by the transfers and the remote
 * toolbox so one place remembers it and one call forgets it: the server has no usable scp (transfers go
 * over SFTP), or it refuses the SFTP subsystem (the toolbox uses shell commands); and whether SFTP sees the
 * same paths as the shell there (auto/same-paths.ts: small transfers then use the kept SFTP session).
 */
import type { ChannelProvider } from '../ssh/types';

export type TransportFact = 'noScp' | 'noSftp';

const learned = new WeakMap<ChannelProvider, Set<TransportFact>>();

export function learnTransport(channels: ChannelProvider, fact: TransportFact): void {
  const facts = learned.get(channels) ?? new Set<TransportFact>();
  facts.add(fact);
  learned.set(channels, facts);
}

export function knowsTransport(channels: ChannelProvider, fact: TransportFact): boolean {
  return learned.get(channels)?.has(fact) === true;
}

/**
 * What the same-paths probe found: SFTP sees the shell's paths ('same'), it does not or cannot be used
 * ('differ', for good), or the probe could not tell (a time-out, a refusal to write the probe file): no
 * second probe before `retryAt` (Date.now() time).
 */
export type PathsVerdict = { kind: 'same' } | { kind: 'differ' } | { kind: 'unsure'; retryAt: number };

/** A verdict, or the probe that is finding it (every job that asks meanwhile waits for that one). */
const pathVerdicts = new WeakMap<ChannelProvider, PathsVerdict | Promise<PathsVerdict | undefined>>();

export function pathsVerdictOf(channels: ChannelProvider): PathsVerdict | Promise<PathsVerdict | undefined> | undefined {
  return pathVerdicts.get(channels);
}

/** Keeps the verdict (or the probe under way); undefined forgets it, so that the next job probes again. */
export function setPathsVerdict(channels: ChannelProvider, verdict: PathsVerdict | Promise<PathsVerdict | undefined> | undefined): void {
  if (verdict === undefined) pathVerdicts.delete(channels);
  else pathVerdicts.set(channels, verdict);
}

/** Forgets what 'auto' learned about a provider (e.g. after the connection's settings changed). */
export function forgetTransport(channels: ChannelProvider): void {
  learned.delete(channels);
  pathVerdicts.delete(channels);
}
