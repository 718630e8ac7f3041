/**
 * Progress as the user sees it: throttled progress payloads (file, bytes, total, percent, rate, ETA) and
 * the short status texts (42% · 3.1 MiB/s).
 */
import type { ProgressEvent } from '../transfer';

/** At most this often a progress message (and a status update) per job: 4 per second. */
export const PROGRESS_INTERVAL_MS = 250;

/** Binary units throughout (the size limit is in MiB too): 1 KiB = 1024 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Status texts that carry numbers start with a digit or a sign, so the editor shows them as they are;
 * texts that start with a letter are catalog keys the editor translates into the viewer's language.
 */
export function transferStatusText(percent: number, rate: number): string {
  return rate > 0 ? `${percent}% · ${formatBytes(rate)}/s` : `${percent}%`;
}

/** Follows one job's progress events and decides when a progress message is due. */
export class ProgressTracker {
  private readonly startedAt = Date.now();
  private lastReport = 0;
  private file = '';
  private fileBytes = 0;
  private fileSize = 0;
  private bytes = 0;
  private total: number | undefined;
  /** files the overwrite policy skipped, and their sizes: they count as done, not as copied */
  private skipped = 0;
  private skippedBytes = 0;

  /** Returns true when a report is due (first event, then at most every PROGRESS_INTERVAL_MS). */
  update(event: ProgressEvent): boolean {
    if (event.type === 'fileStart') {
      this.file = event.path;
      this.fileSize = event.size;
      this.fileBytes = 0;
      if (event.totalSize !== undefined) this.total = event.totalSize;
    } else if (event.type === 'bytes') {
      this.file = event.path;
      this.fileBytes = event.fileBytes;
      this.fileSize = event.fileSize;
      this.bytes = event.totalBytes;
      if (event.totalSize !== undefined) this.total = event.totalSize;
    } else if (event.transferred) {
      this.fileBytes = event.size;
      this.fileSize = event.size;
    } else {
      this.skipped += 1;
      this.skippedBytes += event.size;
    }
    const now = Date.now();
    if (now - this.lastReport < PROGRESS_INTERVAL_MS) return false;
    this.lastReport = now;
    return true;
  }

  /** The progress payload; `finalBytes` (the bytes copied) marks the end of the job (100 %). */
  payload(finalBytes?: number): Record<string, unknown> {
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    const final = finalBytes !== undefined;
    const bytes = finalBytes ?? this.bytes;
    // At the end the total is known either way: what was copied and what was skipped.
    const total = final ? (this.total ?? bytes + this.skippedBytes) : this.total;
    const done = bytes + this.skippedBytes;
    let percent: number;
    if (final) percent = 100;
    else if (total !== undefined && total > 0) percent = Math.floor((done / total) * 100);
    else if (this.fileSize > 0) percent = Math.floor((this.fileBytes / this.fileSize) * 100);
    else percent = 0;
    const rate = Math.round(bytes / seconds);
    const eta = total !== undefined && rate > 0 ? Math.max(0, (total - done) / rate) : null;
    return {
      file: this.file,
      bytes,
      total: total ?? null,
      percent: Math.min(percent, 100),
      fileBytes: this.fileBytes,
      fileSize: this.fileSize,
      skipped: this.skipped,
      rate,
      eta: eta === null ? null : Math.round(eta * 10) / 10,
    };
  }
}
