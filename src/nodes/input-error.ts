/**
 * EINVALs about the message or the node's settings. Each has its own catalog key under `<ns>.errors.`,
 * so the user reads what is wrong in their language, followed only by the value they gave.
 */
import { TransferError } from '../errors';

/**
 * The catalog keys (under `<ns>.errors.`) of the EINVALs about the message or the node's settings. Their
 * catalog text says what is wrong; `detail` adds only what the user gave (never the summary again).
 */
export const INPUT_ERROR_KEYS = [
  'noConnection',
  'noRemotePath',
  'badRemotePath',
  'badProperty',
  'badPropertyType',
  'noLocalPath',
  'badLocalPath',
  'badPayload',
  'badMode',
  'badMaxSize',
  'badMaxFiles',
  'badMoveTo',
  'badOperation',
  'noNewPath',
  'badNewPath',
  'badListOption',
  'badLimit',
  'badMinimumAge',
  'badStableInterval',
  'badClaimTimeout',
  'claimTimeoutNotOverStable',
  'badClaimId',
] as const;

export type InputErrorKey = (typeof INPUT_ERROR_KEYS)[number];

/** An EINVAL about the message or the node's settings, with its own catalog key under `<ns>.errors.`. */
export class InputError extends TransferError {
  constructor(
    readonly messageKey: InputErrorKey,
    summary: string,
    details: { host?: string; path?: string; detail?: string } = {},
  ) {
    super('EINVAL', summary, details);
  }
}
