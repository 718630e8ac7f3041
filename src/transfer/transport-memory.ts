/**
 * What 'auto' learned about a connection (a ChannelProvider), shared by the transfers and the remote
 * toolbox so one place remembers it and one call forgets it: the server has no usable scp (transfers go
 * over SFTP), or it refuses the SFTP subsystem (the toolbox uses shell commands).
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

/** Forgets what 'auto' learned about a provider (e.g. after the connection's settings changed). */
export function forgetTransport(channels: ChannelProvider): void {
  learned.delete(channels);
}
