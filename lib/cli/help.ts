import { RELOAD_OPTIONS } from './commands/reload';
import { RUN_OPTIONS } from './commands/run';
import { SCALE_OPTIONS } from './commands/scale';
import { STATUS_OPTIONS } from './commands/status';
import { STOP_OPTIONS } from './commands/stop';
import { TARGET_OPTIONS } from './commands/target';
import { formatOptions } from './options';

/** The text of `handover --help`; the option sections come from the parsers' own tables. */
export function helpText(): string {
  return `handover: zero-downtime restarts for any server, under one PID for life.

Usage:
  handover run [options] -- COMMAND [ARGS...]
  handover reload --pid-file FILE  what SIGHUP does; waits for the outcome
  handover status --pid-file FILE  what runs, since when, the last reload
  handover stop --pid-file FILE    what SIGTERM does; waits for the exit
  handover scale --workers N --pid-file FILE
  handover --help | --version
  (each of reload, status, stop and scale: --pid-file FILE, --pid PID or
  --control PATH)

handover run binds the listeners once and keeps them for its whole life. It
starts COMMAND with them as fds 3, 4, ... and systemd's socket-activation
protocol (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID = the app's own pid), plus a
NOTIFY_SOCKET of its own, and waits for the app to send READY=1 there (from
its own pid or a descendant's). Any program that adopts LISTEN_FDS and speaks
sd_notify works: Node (GracefulServer, listenAndServe), Go, Python, a shell
script with systemd-notify.

Options of run:
${formatOptions(RUN_OPTIONS)}
DUR is a number of seconds or a number with a unit: 500ms, 30s, 2m, 1h.

Options of reload, status, stop and scale:
${formatOptions(TARGET_OPTIONS)}
reload:
${formatOptions(RELOAD_OPTIONS.slice(TARGET_OPTIONS.length))}
status:
${formatOptions(STATUS_OPTIONS.slice(TARGET_OPTIONS.length))}
stop:
${formatOptions(STOP_OPTIONS.slice(TARGET_OPTIONS.length))}
scale:
${formatOptions(SCALE_OPTIONS.slice(TARGET_OPTIONS.length))}
Without a control socket (an older supervisor), reload and stop send the
signal instead and say so; they then cannot report the outcome.

What it does:
  SIGHUP, handover reload   Start the next generation and wait for READY=1; keep
                            both for --probation; then SIGTERM the old one. If the
                            new one exits, times out, cannot be executed or dies
                            in probation, it is killed and the old one goes on
                            serving (logged). A reload asked for during a reload
                            runs once that one is over.
  SIGTERM, SIGINT, SIGQUIT  Forwarded to the app; handover exits when it has, with
                            its exit status (128+N for signal N). Ctrl-C in a
                            terminal reaches only handover (the app runs in its own
                            process group) and is forwarded once; again forwards
                            again; a third time kills.
  SIGUSR1, SIGUSR2          Forwarded to the serving generation.
  SIGTSTP, SIGCONT          Ctrl-Z stops the app and handover; fg continues both.
  A crash                   Restarted with exponential back-off; the listeners stay
                            open, so connections wait in the backlog meanwhile.
  Zombies                   Every orphan reparented to handover is reaped (it is
                            a child subreaper, and correct as PID 1 in a container).
  systemd                   With NOTIFY_SOCKET set (Type=notify or notify-reload),
                            handover sends READY=1 when the first generation is
                            ready, RELOADING=1 and READY=1 around each reload and
                            STOPPING=1; its PID stays the unit's MAINPID.
Every step is logged in one line to stderr.

Exit codes: run: the app's status; 127 or 126 when COMMAND cannot be found or
executed; 1 when handover cannot start (e.g. the address is in use) or the
first generation never became ready. reload: 0 once the new release serves,
1 when it was rolled back. stop: the supervisor's exit status. 2 for a
mistake on the command line.

Examples:
  handover run --listen 8080 -- node server.js
  handover run --listen 127.0.0.1:8080 --listen unix:/run/app/admin.sock \\
      --pid-file /run/app.pid --probation 10s -- node dist/server.js
  handover run --listen web=[::]:443 --drain-timeout 2m -- ./my-go-server
  handover run --listen 8000 -- python3 app.py
  handover reload --pid-file /run/app.pid || echo "rolled back"
  handover status --pid-file /run/app.pid --json
`;
}
