// A private network namespace (`ip netns add`, loopback up) for tests that
// run programs exactly as a user would write them — a README snippet or a
// systemd unit that listens on port 8080 — without touching the machine's
// own port 8080 or racing another test for it. Needs root, as the
// namespace tests elsewhere in the suite do. `ip` is iproute2, on every
// fresh machine. Requests go from inside the namespace (`ip netns exec`).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const CLIENT = `
const [port, path] = process.argv.slice(1);
const req = require('node:http').get({ host: '127.0.0.1', port: Number(port), path, agent: false }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body })));
});
req.setTimeout(5000, () => req.destroy(new Error('timeout')));
req.on('error', (err) => process.stdout.write(JSON.stringify({ error: err.code || err.message })));
`;

/** One HTTP answer, or the error code of the attempt (ECONNREFUSED, timeout...). */
export type Answer = { status: number; body: string } | { error: string };

const live = new Set<Netns>();

/** A network namespace of its own, with only `lo` (127.0.0.1, ::1), up. */
export class Netns {
  readonly name = `handover-test-${randomBytes(4).toString('hex')}`;
  #deleted = false;

  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
    live.add(this);
    execFileSync('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
  }

  /** `argv` run inside the namespace (`ip netns exec` execs it: the pid is the program's). */
  wrap(argv: string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.name, ...argv] };
  }

  /** GET http://127.0.0.1:PORT/PATH from inside the namespace. */
  get(port: number, path = '/'): Promise<Answer> {
    return new Promise((resolveGet) => {
      execFile('ip', ['netns', 'exec', this.name, process.execPath, '-e', CLIENT, String(port), path], { encoding: 'utf8', timeout: 15_000 }, (err, stdout) => {
        if (err && stdout === '') resolveGet({ error: err.message });
        else resolveGet(JSON.parse(stdout) as Answer);
      });
    });
  }

  /** Polls {@link get} until something answers 2xx; that answer (bounded by expect.poll's caller). */
  async firstAnswer(port: number, path = '/', timeoutMs = 15_000): Promise<Answer> {
    const until = Date.now() + timeoutMs;
    let answer: Answer = { error: 'never tried' };
    while (Date.now() < until) {
      answer = await this.get(port, path);
      if ('status' in answer) return answer;
      await new Promise((wake) => setTimeout(wake, 50)); // retry a refused connection: nothing to wait on across namespaces
    }
    return answer;
  }

  delete(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    live.delete(this);
    execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

/** Deletes every namespace made since the last call. */
export function deleteNamespaces(): void {
  for (const netns of [...live]) netns.delete();
}
