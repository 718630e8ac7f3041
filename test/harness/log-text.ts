/** Compressible test data that looks like what devices produce: log lines with times, counters and levels. */
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const EVENTS = [
  'sensor reading accepted',
  'uplink heartbeat sent',
  'modem signal quality changed',
  'configuration reloaded from /etc/device/app.conf',
  'queue flushed to the collector',
];

/** `size` bytes of log text (deterministic: the same size gives the same bytes). */
export function logText(size: number): Buffer {
  const out = Buffer.alloc(size);
  let written = 0;
  let line = 0;
  let seconds = 1_700_000_000;
  while (written < size) {
    seconds += line % 3;
    const time = new Date(seconds * 1000).toISOString();
    const text = `${time} ${LEVELS[line % LEVELS.length]} [worker-${line % 7}] ${EVENTS[line % EVENTS.length]} seq=${line} value=${(line * 37) % 1000}\n`;
    written += out.write(text, written);
    line += 1;
  }
  return out;
}
