/**
 * A single-file upload can land in only two places: inside the remote path (when it is an existing
 * directory) or at the remote path itself. Both are known before the probe, temporary names included, so
 * a transport can probe and start sending in one go (over SCP: one exec channel instead of three, see
 * scp/folded-upload.ts); the probe's answer then only picks one of them.
 */
import type { Job } from '../job/job';
import type { PlannedEntry } from './upload-plan';
import { joinRemote, splitRemote } from '../remote-path';
import { remoteTempName } from '../leftovers/temp-name';
import type { UploadRequest } from '../types';
import { resolveLayout, type RemoteKind, type Step } from './upload-layout';

/** Where a single file goes in one of the two cases. */
export interface LoneTarget {
  finalPath: Buffer;
  /** the temporary path when atomic, else the final path */
  wirePath: Buffer;
}

export interface LoneUpload {
  /** when the remote path is an existing directory (absent: that case is an error, e.g. content without a name) */
  intoDirectory?: LoneTarget;
  /** otherwise (absent: an error, e.g. a path that ends in '/') */
  atPath?: LoneTarget;
  atomic: boolean;
  /** an existing file at the final path may be replaced (overwrite "overwrite" or "skip"); "fail" refuses it */
  replace: boolean;
  preserve: boolean;
}

/** The two targets of a plan of exactly one file; undefined for any other plan. */
export function loneUpload(job: Job, request: UploadRequest, remote: Buffer, entries: PlannedEntry[], shown: string): LoneUpload | undefined {
  const single = entries.length === 1 ? entries[0] : undefined;
  if (single?.kind !== 'file') return undefined;
  const target = (kind: RemoteKind): LoneTarget | undefined => {
    let layout;
    try {
      layout = resolveLayout(job, remote, kind, single, entries, shown);
    } catch {
      return undefined; // the walker meets the same error once the probe has answered
    }
    const name = layout.top[0].name;
    return {
      finalPath: joinRemote(layout.targetDir, name),
      wirePath: joinRemote(layout.targetDir, request.atomic ? remoteTempName(name) : name),
    };
  };
  return {
    ...optional('intoDirectory', target('directory')),
    ...optional('atPath', target('missing')),
    atomic: request.atomic,
    replace: request.overwrite !== 'fail',
    preserve: request.preserve,
  };
}

function optional<K extends string>(key: K, value: LoneTarget | undefined): Partial<Record<K, LoneTarget>> {
  return value ? ({ [key]: value } as Record<K, LoneTarget>) : {};
}

/** The lone file's step takes the temporary name the transport was already given with the probe. */
export function adoptLoneTarget(steps: Step[], lone: LoneUpload | undefined): void {
  const step = steps.length === 1 ? steps[0] : undefined;
  if (!lone || step?.kind !== 'file') return;
  const target = [lone.intoDirectory, lone.atPath].find((candidate) => candidate?.finalPath.equals(step.finalPath));
  if (!target) return;
  step.wirePath = target.wirePath;
  step.wireName = splitRemote(target.wirePath).base;
}
