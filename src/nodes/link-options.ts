/**
 * The per-transfer link options of both flow nodes: bandwidth limit (KiB/s), verify and resume, set in
 * the dialog and overridable per message by `msg.scp.limitKiBps`, `msg.scp.verify`, `msg.scp.resume`
 * (only these keys of msg.scp are read: a result a node before left there changes nothing).
 */
import type { LinkOptions } from '../transfer';
import { cleanText } from '../text';
import { InputError } from './input-error';
import type { NodeMessage } from './red-types';

export interface LinkDef {
  /** KiB/s, empty or 0 = no limit */
  limitKiBps?: number | string;
  verify?: boolean;
  resume?: boolean;
  /** hours a kept part stays usable (default 24) */
  resumeMaxAgeHours?: number | string;
}

const HOUR_MS = 60 * 60 * 1000;
const DEFAULT_RESUME_HOURS = 24;

function nonNegative(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = typeof value === 'number' || typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isFinite(number) || number < 0) {
    throw new InputError('badLimit', 'the bandwidth limit and the age of a resumed part must be numbers, 0 or more', {
      detail: cleanText(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value), 100),
    });
  }
  return number;
}

function flag(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

export function linkOptionsFrom(def: LinkDef, msg: NodeMessage): LinkOptions | undefined {
  const given = msg.scp !== null && typeof msg.scp === 'object' && !Array.isArray(msg.scp) ? (msg.scp as Record<string, unknown>) : {};
  const limitKiBps = nonNegative('limitKiBps' in given ? given.limitKiBps : def.limitKiBps, 0);
  const verify = flag(given.verify, def.verify === true);
  const resume = flag(given.resume, def.resume === true);
  const maxAgeHours = nonNegative('resumeMaxAgeHours' in given ? given.resumeMaxAgeHours : def.resumeMaxAgeHours, DEFAULT_RESUME_HOURS);
  if (limitKiBps === 0 && !verify && !resume) return undefined;
  return {
    ...(limitKiBps > 0 ? { limitKiBps } : {}),
    ...(verify ? { verify } : {}),
    ...(resume ? { resume: { maxAgeMs: maxAgeHours * HOUR_MS } } : {}),
  };
}
