/**
 * scp-connection: one SSH endpoint, its credentials and host-key policy. It owns the pooled connections
 * (one SshPool per device, created at first use) that every flow node using it shares, fans the pools'
 * state out to those nodes' status, and serves the editor's "Test connection" button. With the device
 * override on, messages may name other devices (msg.host, msg.port, msg.username): a fleet.
 */
import path from 'path';
import os from 'os';
import { engine, type EngineConnection, type EngineJob, type JobHooks } from '../engine';
import { TransferError, isTransferError } from '../errors';
import type { PoolOptions, SshEndpoint } from '../ssh/types';
import { DeviceError, deviceFor, deviceLabel } from './device';
import {
  destinationOf,
  endpointOf,
  idleTimeoutMsOf,
  maxDevicesOf,
  poolOptionsOf,
  transferTimeoutMsOf,
  transportOf,
  type ConnectionCredentials,
  type ConnectionSettings,
} from './endpoint';
import {
  isScpConnectionNode,
  type ConnectionState,
  type ConnectionUser,
  type Device,
  type ScpConnectionNode,
} from './connection-api';
import type { NodeAPI, NodeDef, NodeInstance, NodeMessage, RequestLike, ResponseLike } from './red-types';

interface ConnectionDef extends NodeDef, ConnectionSettings {}

/** What the editor shows in place of a stored secret it never receives. */
const STORED_SECRET_PLACEHOLDER = '__PWRD__';
const SECRET_NAMES = ['password', 'privateKey', 'passphrase', 'proxyPassword'] as const;
/** How long closing waits for its jobs' clean-up before it closes the pool (Node-RED waits 15 s). */
const CLOSE_WAIT_MS = 8_000;

export = function register(RED: NodeAPI): void {
  const userDir = (): string => RED.settings.userDir ?? path.join(os.homedir(), '.node-red');
  const tofuStoreFile = (): string => path.join(userDir(), 'scp-known-hosts.json');

  /** The endpoint for one connection's settings, following its jump host through the deployed nodes. */
  function buildEndpoint(
    settings: ConnectionSettings,
    credentials: ConnectionCredentials,
    visited: string[],
    inspecting = false,
  ): SshEndpoint {
    const endpoint = endpointOf(settings, credentials, tofuStoreFile(), inspecting);
    const jumpId = settings.jumpHost?.trim();
    if (jumpId) {
      if (visited.includes(jumpId)) {
        throw new TransferError('EINVAL', 'the jump host chain loops back to a connection already in it', { host: endpoint.host });
      }
      const jump = RED.nodes.getNode(jumpId);
      if (!isScpConnectionNode(jump)) {
        throw new TransferError('EINVAL', 'the jump host connection is not deployed', { host: endpoint.host });
      }
      endpoint.jumpHost = jump.endpointFor([...visited, jumpId]);
    }
    return endpoint;
  }

  function ScpConnection(this: NodeInstance, def: ConnectionDef): void {
    RED.nodes.createNode(this, def);
    const node = this as ScpConnectionNode;
    const settings: ConnectionSettings = { ...def };
    const users = new Set<ConnectionUser>();
    /** this node's pools in the engine, set up at the first job */
    let pools: EngineConnection | undefined;
    /** the configured endpoint, built at first use (a jump host must be deployed by then) */
    let configured: SshEndpoint | undefined;
    const jobs = new Set<Promise<unknown>>();
    let closed = false;

    const host = def.host?.trim() ?? '';
    const port = def.port === undefined || def.port === '' ? 22 : Number(def.port);
    const label = `${def.username?.trim() ?? ''}@${host}:${port}`;
    let transport: ConnectionSettings['transport'] = 'auto';
    let idleTimeoutMs = 30_000;
    let transferTimeoutMs = 0;
    let poolOptions: Partial<PoolOptions> = {};
    let maxDevices = 1;
    const deviceOverride = def.deviceOverride === true;
    let configError: TransferError | undefined;
    try {
      transport = transportOf(settings);
      idleTimeoutMs = idleTimeoutMsOf(settings);
      transferTimeoutMs = transferTimeoutMsOf(settings);
      poolOptions = poolOptionsOf(settings);
      // Without the override there is one device: the configured one.
      if (deviceOverride) maxDevices = maxDevicesOf(settings);
    } catch (error) {
      configError = error as TransferError;
    }

    if (def.hostKeyPolicy === 'any') node.warn(RED._('scp-connection.warnings.anyHostKey', { host: label }));

    const fanOut = (state: ConnectionState, error?: TransferError): void => {
      for (const user of users) user.connectionState(state, error);
    };

    Object.defineProperties(node, {
      transport: { get: () => transport, enumerable: true },
      hostKeyUnverified: { value: def.hostKeyPolicy === 'any', enumerable: true },
      label: { value: label, enumerable: true },
      destination: { value: destinationOf(settings), enumerable: true },
    });

    node.endpointFor = (visited: string[]): SshEndpoint =>
      buildEndpoint(settings, node.credentials as ConnectionCredentials, visited.includes(node.id) ? visited : [...visited, node.id]);

    const devicePools = (): EngineConnection =>
      (pools ??= engine().connect(
        { poolOptions, maxDevices, leftoverDir: path.join(userDir(), 'scp-leftovers') },
        {
          onState: (state, error) => fanOut(state, error),
          // The pools' warnings (crypto binding missing, unchecked host key, ...) reach Node-RED's log translated.
          onWarning: (warning) => node.warn(RED._(`scp-connection.warnings.${warning.code}`, warning.values)),
          onDebug: (text) => node.debug(text),
          onCloseFailed: (detail) => node.warn(RED._('scp-connection.warnings.closeFailed', { detail })),
          onEngineStopped: (detail) => node.warn(RED._('scp-connection.warnings.engineStopped', { detail })),
        },
      ));

    node.deviceFor = (msg: NodeMessage): Device => {
      if (closed) throw new TransferError('EABORTED', 'the connection node was closed', { host: label });
      if (configError) throw configError;
      configured ??= node.endpointFor([node.id]);
      const base = configured;
      let address;
      try {
        address = deviceFor(msg, base, deviceOverride);
      } catch (error) {
        // The connection's own catalog says what is wrong with the device; the flow node frames it as EINVAL.
        if (error instanceof DeviceError) throw new TransferError('EINVAL', RED._(`scp-connection.errors.${error.key}`, error.values), { host: label });
        throw error;
      }
      const endpoint: SshEndpoint = { ...base, ...address };
      return {
        ...address,
        label: deviceLabel(address),
        run: <Job extends EngineJob>(job: Job, hooks: JobHooks) => {
          // a message still being read when the node closed must not open pools nobody would close
          if (closed) return Promise.reject(new TransferError('EABORTED', 'the connection node was closed', { host: label }));
          return devicePools().run({ endpoint, transport, idleTimeoutMs, deadlineMs: transferTimeoutMs, job }, hooks);
        },
      };
    };

    node.poolStats = () => pools?.stats();
    node.register = (user: ConnectionUser) => {
      users.add(user);
    };
    node.deregister = (user: ConnectionUser) => {
      users.delete(user);
    };
    node.holdOpenFor = (job: Promise<unknown>) => {
      const settled: Promise<unknown> = job.then(
        () => jobs.delete(settled),
        () => jobs.delete(settled),
      );
      jobs.add(settled);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      users.clear();
      // The pools stay referenced (deviceFor() refuses once closed) so their final stats remain readable.
      const closing = pools;
      if (!closing) {
        done();
        return;
      }
      // Node-RED closes this node together with the flow nodes that use it: their aborted jobs remove
      // their temporary files first, over this pool.
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      });
      Promise.race([Promise.all(jobs), waited])
        .then(() => {
          clearTimeout(timer);
          return closing.close();
        })
        .then(
          () => done(),
          (error: unknown) => {
            node.warn(RED._('scp-connection.warnings.closeFailed', { detail: isTransferError(error) ? error.message : String(error) }));
            done();
          },
        );
    });
  }

  RED.nodes.registerType('scp-connection', ScpConnection as (this: NodeInstance, def: never) => void, {
    credentials: {
      password: { type: 'password' },
      privateKey: { type: 'password' },
      passphrase: { type: 'password' },
      proxyPassword: { type: 'password' },
    },
  });

  /**
   * "Test connection": the dialog posts its current values. Secrets typed in the dialog are used. A blank or
   * placeholder secret means "the stored one" only while the dialog names the deployed node's destination
   * (host, port, user, jump host, proxy): the stored secrets never go anywhere else. Elsewhere a placeholder
   * is refused with EINVAL (type the secret again) and a blank is no secret. The reply is the
   * ConnectionReport, which holds no secret.
   */
  RED.httpAdmin.post('/scp-connection/:id/test', RED.auth.needsPermission('scp-connection.write'), (req: RequestLike, res: ResponseLike) => {
    const body = (req.body ?? {}) as ConnectionSettings & { credentials?: ConnectionCredentials };
    const id = req.params.id;
    const deployed = RED.nodes.getNode(id);
    const sameDestination = isScpConnectionNode(deployed) && deployed.destination === destinationOf(body);
    const stored = (sameDestination ? (RED.nodes.getCredentials(id) ?? {}) : {}) as ConnectionCredentials;
    const credentials: ConnectionCredentials = {};
    let storedElsewhere = false;
    for (const name of SECRET_NAMES) {
      const typed = body.credentials?.[name];
      if (typed === STORED_SECRET_PLACEHOLDER && !sameDestination) storedElsewhere = true;
      const value = typed === undefined || typed === '' || typed === STORED_SECRET_PLACEHOLDER ? stored[name] : typed;
      if (typeof value === 'string' && value !== '') credentials[name] = value;
    }
    const settings: ConnectionSettings = { ...body };
    delete (settings as { credentials?: unknown }).credentials;
    const fail = (error: unknown): void => {
      const known = isTransferError(error) ? error : new TransferError('EINVAL', 'the test could not run');
      res.json({ reached: false, authenticated: false, scp: null, sftp: null, error: { code: known.code, message: known.message } });
    };
    if (storedElsewhere) {
      fail(new TransferError('EINVAL', RED._('scp-connection.errors.secretsStayWithDeployed')));
      return;
    }
    let endpoint: SshEndpoint;
    try {
      endpoint = buildEndpoint(settings, credentials, [id], true);
    } catch (error) {
      fail(error);
      return;
    }
    engine()
      .test(endpoint, { inspectHostKey: true })
      .then((report) => res.json(report), fail);
  });
};
