/**
 * Reading values from the message: TypedInput properties evaluated per message, and the remote path
 * checked for what the engine accepts. Anything unusable is an InputError naming what was given.
 */
import { cleanText } from '../text';
import { InputError } from './input-error';
import type { NodeAPI, NodeInstance, NodeMessage } from './red-types';

/**
 * The TypedInput types Node-RED evaluates. Any other type would come back as the literal text of the
 * property (Node-RED's evaluateNodeProperty passes unknown types through), silently a wrong path.
 */
const PROPERTY_TYPES = new Set(['str', 'num', 'bool', 'json', 'bin', 're', 'date', 'jsonata', 'env', 'msg', 'flow', 'global', 'node', 'cred']);

/** Resolves a TypedInput property for this message (RED.util.evaluateNodeProperty as a promise). */
export function evaluateProperty(RED: NodeAPI, node: NodeInstance, value: string, type: string, msg: NodeMessage): Promise<unknown> {
  if (!PROPERTY_TYPES.has(type)) {
    return Promise.reject(new InputError('badPropertyType', `the property type "${type}" is not known`, { detail: cleanText(type) }));
  }
  // Which property failed, and how: a JSONata or JSON error alone does not say where to look.
  const failed = (error: unknown): InputError =>
    new InputError('badProperty', 'a property could not be evaluated', {
      detail: `${type} ${cleanText(value, 200)}: ${cleanText(error instanceof Error ? error.message : String(error))}`,
    });
  return new Promise((resolve, reject) => {
    try {
      RED.util.evaluateNodeProperty(value, type, node, msg, (error, result) => {
        if (error) reject(failed(error));
        else resolve(result);
      });
    } catch (error) {
      reject(failed(error));
    }
  });
}

/** "a number", "an array", "null": what a value is, for messages that say what was given instead. */
export function describeValueType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' || type === 'undefined' ? `an ${type}` : `a ${type}`;
}

/**
 * A remote path from the message: a non-empty string, or a Buffer for names that are not valid UTF-8
 * (passed to the engine as raw bytes; `text` is its escaped form for progress and errors).
 */
export function remotePathFrom(value: unknown): { text: string; bytes?: Buffer } {
  if (typeof value === 'string' && value !== '') return { text: value };
  if (Buffer.isBuffer(value) && value.length > 0) return { text: cleanText(value, 1024), bytes: value };
  if (value === undefined || value === null || value === '' || Buffer.isBuffer(value)) throw new InputError('noRemotePath', 'the remote path is empty');
  throw new InputError('badRemotePath', 'the remote path must be a string', { detail: describeValueType(value) });
}
