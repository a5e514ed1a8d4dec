import { HandoverError } from '../core';
import { type ExitStatus, forkExecWithFds, waitPid } from '../native';
import { compileCacheFor, type CompileCacheOption, IgnoredNotifications, type NotifyListener, type NotifyMessage, PrivateNotifyListener, SUPERVISOR_PID_ENV } from '../protocol';
import { nextArgv, type EntryPoint } from './entry-point';
import { NOTIFY_STEM, PARENT_PID_ENV, UPSTREAM_NOTIFY_ENV } from './readiness';

/** ms a next generation that failed has, after SIGTERM, to answer what it accepted before SIGKILL. */
export const FAILED_CHILD_GRACE = 10_000;

/** What the next generation is started with. */
export interface NextGenerationOptions {
  /** How this process was started: the next one is started the same way. */
  entry: EntryPoint;
  /** The fds it gets from 3 on, with their LISTEN_FDNAMES. */
  files: readonly { fd: number; name: string }[];
  /** systemd's NOTIFY_SOCKET, passed on for when it has to speak for itself. */
  upstream: string | undefined;
  /** ms it has to say READY=1. */
  timeout: number;
  /** The supervisor this process runs under (passed on as HANDOVER_SUPERVISOR_PID), if any. */
  supervisorPid?: number | null;
  log: (line: string) => void;
  /** Its module compile cache: NODE_COMPILE_CACHE (see compileCacheFor). */
  compileCache: CompileCacheOption;
}

/**
 * One start of the next generation: the same node, execArgv, script and
 * cwd, with every fd as LISTEN_FDS and a private NOTIFY_SOCKET on which only
 * its pid may say READY=1. {@link ready} resolves with its pid once it has;
 * it rejects with ERR_CHILD_EXITED, ERR_UPGRADE_TIMEOUT or the error given
 * to {@link abort} — and the failed process is gone (SIGTERM, SIGKILL after
 * {@link FAILED_CHILD_GRACE}, reaped) before it rejects.
 */
export class NextGeneration {
  readonly pid: number;
  readonly ready: Promise<number>;
  #finish!: (err: HandoverError | null) => void;

  /** Starts it; throws ERR_EXEC when the readiness socket or the process cannot be made. */
  constructor(options: NextGenerationOptions) {
    let listener: NotifyListener;
    try {
      // Its file and 0700 directory go when it is closed (or at exit).
      listener = PrivateNotifyListener.open(NOTIFY_STEM);
    } catch (err) {
      throw new HandoverError('ERR_EXEC', `cannot create the readiness socket: ${(err as Error).message}`, { cause: err });
    }
    const address = listener.path;
    const close = () => listener.close();
    const env: Record<string, string | undefined> = {
      ...process.env,
      LISTEN_FDS: String(options.files.length),
      LISTEN_FDNAMES: options.files.map((f) => f.name).join(':'),
      NOTIFY_SOCKET: address,
      [PARENT_PID_ENV]: String(process.pid),
      [UPSTREAM_NOTIFY_ENV]: options.upstream,
      [SUPERVISOR_PID_ENV]: options.supervisorPid === null || options.supervisorPid === undefined ? undefined : String(options.supervisorPid),
    };
    env.NODE_COMPILE_CACHE = compileCacheFor(options.compileCache, process.env, [options.entry.cwd, options.entry.script ?? '']) ?? env.NODE_COMPILE_CACHE;
    try {
      this.pid = forkExecWithFds(options.entry.execPath, nextArgv(options.entry), {
        cwd: options.entry.cwd,
        env,
        files: [0, 1, 2, ...options.files.map((f) => f.fd)],
        listenPid: true,
      });
    } catch (err) {
      close();
      throw new HandoverError('ERR_EXEC', `cannot start the next generation: ${(err as Error).message}`, { cause: err });
    }
    options.log(`started generation ${this.pid}`);
    this.ready = this.#awaitReady(listener, options).finally(close);
  }

  /** Ends the wait with `err`: the process is stopped, then {@link ready} rejects with it. */
  abort(err: HandoverError): void {
    this.#finish(err);
  }

  #awaitReady(listener: NotifyListener, options: NextGenerationOptions): Promise<number> {
    const pid = this.pid;
    const exit = waitPid(pid, { ref: false });
    return new Promise<number>((resolveReady, rejectReady) => {
      let settled = false;
      const finish = (err: HandoverError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listener.off('message', onMessage);
        if (!err) {
          resolveReady(pid);
          return;
        }
        // The failed child must be gone before we report. It may already have
        // accepted connections from the shared socket: SIGTERM (and SIGCONT,
        // should it be stopped) lets it answer them; SIGKILL follows after
        // FAILED_CHILD_GRACE. Then it is reaped.
        signalQuietly(pid, 'SIGTERM');
        signalQuietly(pid, 'SIGCONT');
        const kill = setTimeout(() => signalQuietly(pid, 'SIGKILL'), FAILED_CHILD_GRACE);
        const report = () => {
          clearTimeout(kill);
          rejectReady(err);
        };
        exit.then(report, report);
      };
      this.#finish = finish;
      const ignored = IgnoredNotifications.for(listener, options.log);
      const onMessage = (message: NotifyMessage) => {
        if (message.pid !== pid && !(message.pid === -1 && process.platform !== 'linux')) {
          ignored.ignore(message, `only ${pid} may say it is ready`);
          return;
        }
        if (message.fields.get('READY') === '1') finish(null);
      };
      listener.on('message', onMessage);
      exit.then(
        (status: ExitStatus) =>
          finish(
            new HandoverError('ERR_CHILD_EXITED', `the next generation (pid ${pid}) exited before it was ready: ${describeExit(status)}`, {
              pid,
              exitCode: status.code,
              signal: status.signal,
            }),
          ),
        (err: unknown) => finish(new HandoverError('ERR_CHILD_EXITED', `lost track of the next generation (pid ${pid})`, { cause: err, pid })),
      );
      const timer = setTimeout(
        () => finish(new HandoverError('ERR_UPGRADE_TIMEOUT', `the next generation (pid ${pid}) was not ready within ${options.timeout} ms; it was killed`, { pid })),
        options.timeout,
      );
    });
  }
}

function describeExit(status: ExitStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
