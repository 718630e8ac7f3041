/** What the messages a job sends say about it: the result (msg.scp) and the device that served it. */
import type { DeviceAddress } from './device';
import type { NodeMessage } from './red-types';

/** The result for msg.scp: the TransferResult without file contents. */
export function describeResult<T extends { files: Array<{ data?: Buffer }> }>(result: T): T {
  return { ...result, files: result.files.map(({ data: _data, ...file }) => file) };
}

/** host, port and username of a device: what a flow routes by. */
export function deviceFields(device: DeviceAddress): DeviceAddress {
  return { host: device.host, port: device.port, username: device.username };
}

/** Puts the device into msg.scp (kept beside the result there, if any), so every message names it. */
export function nameDevice(msg: NodeMessage, device: DeviceAddress): NodeMessage {
  const scp = msg.scp !== null && typeof msg.scp === 'object' && !Array.isArray(msg.scp) ? msg.scp : {};
  msg.scp = { ...scp, ...deviceFields(device) };
  return msg;
}
