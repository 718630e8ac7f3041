/**
 * One channel's place on a pooled connection, from the request to open it until its close. It carries
 * what the lease reports about the connection under the channel: the first error that ended it, told once
 * to every listener the moment it is known (no one needs to ask again and again).
 */
import type { TransferError } from '../../errors';
import type { LossListener } from '../types';

export class ChannelSlot {
  /** the channel closed (or never opened): the connection no longer counts it */
  released = false;
  private lost: TransferError | undefined;
  private readonly listeners = new Set<LossListener>();

  connectionError(): TransferError | undefined {
    return this.lost;
  }

  /** Records why the connection under the channel failed; the first reason wins and is told once. */
  lose(error: TransferError): void {
    if (this.lost) return;
    this.lost = error;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) tell(listener, error);
  }

  /** Calls `listener` once when the connection is lost (at once when it already is); returns its removal. */
  onLost(listener: LossListener): () => void {
    if (this.lost) {
      tell(listener, this.lost);
      return () => undefined;
    }
    // Its own entry, so one function added twice is two subscriptions and each removal takes its own.
    const entry: LossListener = (error) => listener(error);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }
}

function tell(listener: LossListener, error: TransferError): void {
  try {
    listener(error);
  } catch {
    // a listener's bug must not stop the others nor break the pool that tells them
  }
}
