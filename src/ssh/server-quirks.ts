/**
 * Server bugs the pool works around, recognised from the software version in the server's identification
 * line ("SSH-2.0-dropbear_2022.83").
 *
 * Dropbear 2022.82 up to 2024.85 closes a session channel that opens while the exit of another channel's
 * process is still pending (its SIGCHLD not yet handled), before the channel's exec request arrives; the
 * data that follows then fails an assertion (`!channel->sent_close`) that ends the WHOLE connection, every
 * channel on it (mkj/dropbear issue #321, fixed by pull request #326, first released in 2024.86). Fast
 * commands on parallel channels of one connection hit it within a few dozen jobs. One channel at a time per
 * connection avoids it: Dropbear sends a channel's close only after it handled its process's exit, and the
 * pool opens the next channel only after that close; parallel work spreads over more connections instead.
 */

/** What a server's version makes the pool do differently. */
export interface ServerQuirk {
  /** channels the pool opens at once on one connection to this server */
  maxChannels: number;
  /** why, for the debug log */
  reason: string;
}

/** The first Dropbear release with the race and the first without it again, as [year, release]. */
const RACE_FROM: DropbearVersion = [2022, 82];
const RACE_FIXED_IN: DropbearVersion = [2024, 86];

type DropbearVersion = readonly [year: number, release: number];

/** "dropbear_2022.83" (with or without "SSH-2.0-" before it, any suffix after the number) → [2022, 83]. */
export function parseDropbearVersion(software: string | undefined): DropbearVersion | undefined {
  const match = /^(?:SSH-2\.0-)?dropbear_(\d{4})\.(\d{1,4})(?!\d)/i.exec(software?.trim() ?? '');
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2])];
}

/** What to change for the server that sent this software version; undefined for every server without a known bug. */
export function serverQuirk(software: string | undefined): ServerQuirk | undefined {
  const version = parseDropbearVersion(software);
  if (!version || compare(version, RACE_FROM) < 0 || compare(version, RACE_FIXED_IN) >= 0) return undefined;
  return {
    maxChannels: 1,
    reason:
      `the server runs Dropbear ${version.join('.')}, whose versions 2022.82 to 2024.85 drop the whole connection ` +
      'when a channel opens while another one ends (Dropbear issue #321): one channel at a time per connection',
  };
}

/** By release number: Dropbear numbers its releases on across years (2020.81, 2022.82, 2024.86, 2025.87). */
function compare(a: DropbearVersion, b: DropbearVersion): number {
  return a[1] - b[1] || a[0] - b[0];
}
