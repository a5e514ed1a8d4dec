import { RUN_OPTIONS } from './commands/run';
import { SIGNAL_OPTIONS } from './commands/signal';
import { formatOptions } from './options';

/** The text of `handover --help`; the option sections come from the parsers' own tables. */
export function helpText(): string {
  return `handover: zero-downtime restarts for any server, under one PID for life.

Usage:
  handover run [options] -- COMMAND [ARGS...]
  handover reload --pid-file FILE      (or --pid PID): what SIGHUP does
  handover stop --pid-file FILE        (or --pid PID): what SIGTERM does
  handover --help | --version

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

Options of reload and stop:
${formatOptions(SIGNAL_OPTIONS)}

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

Exit codes: the app's status; 127 or 126 when COMMAND cannot be found or executed;
1 when handover cannot start (e.g. the address is in use) or the first
generation never became ready; 2 for a mistake on the command line.

Examples:
  handover run --listen 8080 -- node server.js
  handover run --listen 127.0.0.1:8080 --listen unix:/run/app/admin.sock \\
      --pid-file /run/app.pid --probation 10s -- node dist/server.js
  handover run --listen web=[::]:443 --drain-timeout 2m -- ./my-go-server
  handover run --listen 8000 -- python3 app.py
  kill -HUP "$(cat /run/app.pid)"      # or: handover reload --pid-file /run/app.pid
`;
}
