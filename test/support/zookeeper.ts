import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, socketExchange } from './ports.js';
import { abortOnExit, hasExited, spawnTracked, terminate } from './processes.js';
import { tempDir } from './tmp.js';
import { errorText, eventually } from './wait.js';

/** ZooKeeper tuning; tickTime bounds negotiable session timeouts to 2x..20x of it. */
export interface ZookeeperOptions {
  tickTime?: number;
}

/** A throwaway standalone ZooKeeper on 127.0.0.1 that keeps its port and dataDir across stop()/start(). */
export interface ZookeeperHandle {
  readonly port: number;
  /** Connection string for clients: `127.0.0.1:PORT`. */
  readonly connect: string;
  /** PID of the current java process (changes on restart). */
  readonly pid: number;
  readonly dataDir: string;
  /** SIGTERM; resolves once java has exited. Does nothing if already stopped. */
  stop(): Promise<void>;
  /**
   * Starts again on the same port and dataDir (so znodes and sessions survive); does nothing if running.
   * A node-zookeeper-client that reconnects inside the startup window can hang on a handshake the server never reads.
   */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP) and resolves once the kernel reports it stopped: connections stay open but nothing answers. */
  pause(): Promise<void>;
  /** Unfreezes a paused server (SIGCONT) and resolves once it runs again. */
  resume(): Promise<void>;
  /** Empties the dataDir, losing all state; the server must be stopped. */
  wipe(): Promise<void>;
}

const CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';

/** Starts a standalone ZooKeeper 3.8 on a free port and resolves once `srvr` reports `Mode: standalone`. */
export async function startZookeeper({ tickTime = 500 }: ZookeeperOptions = {}): Promise<ZookeeperHandle> {
  const dir = tempDir('zk-');
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'zoo.cfg');
  const logFile = join(dir, 'zk.log');
  const port = await freePort();
  mkdirSync(dataDir);
  writeFileSync(
    configFile,
    [
      `tickTime=${tickTime}`,
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,stat,mntr,cons,wchs,wchc,dump',
      'maxClientCnxns=0',
      'forceSync=no',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const log = openSync(logFile, 'a');
    const java = spawnTracked(
      'java',
      [
        '-Xmx64m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        CLASSPATH,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        configFile,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child = java;
    const exited = abortOnExit(java, 'zookeeper');
    try {
      // 'ruok' says imok ~150 ms before requests are served; 'srvr' prints Mode: only once they are.
      await eventually(
        async () => {
          const answer = await socketExchange({ host: '127.0.0.1', port }, 'srvr', 1000);
          if (!/Mode: standalone/.test(answer)) throw new Error(`srvr answered: ${answer.trim() || '(nothing)'}`);
        },
        { timeoutMs: 15_000, intervalMs: 50, message: `zookeeper on port ${port}`, signal: exited },
      );
    } catch (err) {
      await terminate(java, 'SIGKILL');
      throw new Error(`zookeeper did not start: ${errorText(err)}\n--- ${logFile} (tail) ---\n${logTail(logFile)}`, {
        cause: err,
      });
    }
  };

  const running = (): ChildProcess | undefined => (child && !hasExited(child) ? child : undefined);
  // Signal delivery to a many-threaded JVM is asynchronous; wait for /proc to agree so tests are deterministic.
  const freeze = async (sig: 'SIGSTOP' | 'SIGCONT'): Promise<void> => {
    const java = running();
    if (!java) throw new Error('zookeeper is not running');
    java.kill(sig);
    await eventually(
      async () => {
        const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${java.pid}/status`, 'utf8'))?.[1];
        if ((state === 'T') !== (sig === 'SIGSTOP')) throw new Error(`process state is ${state}`);
      },
      { timeoutMs: 5000, message: `zookeeper ${sig}` },
    );
  };

  await launch();
  return {
    port,
    connect: `127.0.0.1:${port}`,
    get pid() {
      return child!.pid!;
    },
    dataDir,
    async stop() {
      const java = running();
      if (java) await terminate(java, 'SIGTERM');
    },
    async start() {
      if (!running()) await launch();
    },
    pause: () => freeze('SIGSTOP'),
    resume: () => freeze('SIGCONT'),
    async wipe() {
      if (running()) throw new Error('stop zookeeper before wiping its dataDir');
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir);
    },
  };
}

function logTail(path: string, chars = 4000): string {
  try {
    return readFileSync(path, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}
