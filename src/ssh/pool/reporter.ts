/**
 * Where the pool tells its owner what happens: state changes, warnings and debug lines. A bug in a hook
 * must not break the pool, so every call is guarded.
 */
import type { TransferError } from '../../errors';
import { bindingMissingWarning, bindingWarningEnglish, cryptoBindingAvailable, ssh2Version } from '../crypto-binding';
import { ssh2ShapeProblems, warnSsh2Changed } from '../ssh2-internals';
import type { PoolState, SshWarning, WarnFunction } from '../types';

export interface PoolHooks {
  onState?(state: PoolState, detail?: TransferError): void;
  log?: { warn: WarnFunction; debug?(msg: string): void };
}

export class PoolReporter {
  private installChecked = false;

  constructor(private readonly hooks: PoolHooks) {}

  state(state: PoolState, detail?: TransferError): void {
    guarded(() => this.hooks.onState?.(state, detail));
  }

  warn(message: string, warning: SshWarning): void {
    guarded(() => this.hooks.log?.warn(message, warning));
  }

  debug(message: string): void {
    guarded(() => this.hooks.log?.debug?.(message));
  }

  /** Before the pool's first connection: warns when ssh2 is not the tested one or runs without its native crypto. */
  checkInstallOnce(): void {
    if (this.installChecked) return;
    this.installChecked = true;
    this.ssh2Shape(ssh2ShapeProblems());
    if (!cryptoBindingAvailable()) {
      const warning = bindingMissingWarning(process.version, ssh2Version());
      this.warn(bindingWarningEnglish(warning), warning);
    }
  }

  /** Warns (once per process for each problem) that ssh2's private fields differ from the tested ones. */
  ssh2Shape(problems: string[]): void {
    warnSsh2Changed(problems, (message, warning) => this.warn(message, warning));
  }
}

function guarded(call: () => void): void {
  try {
    call();
  } catch {
    // a hook's bug must not break the pool
  }
}
