// The deployment files as shipped (issue 14): the systemd units pass
// `systemd-analyze verify` and their ExecStart/ExecReload lines work as
// written; the Dockerfile copies files that exist and starts a command line
// that handover accepts, which — run as PID 1 of a new pid namespace —
// serves and reloads; the Kubernetes Deployment fits the image and the app;
// the README's deploy script switches releases and rolls a broken one back.
// Nothing here needs systemd, Docker or a cluster running: each program
// runs in a private network namespace so that its port 8080 is its own.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DRAIN_TIMEOUT } from '../lib/drain/server-drainer';
import { NotifyListener, type NotifyMessage } from '../lib/protocol/sd-notify';
import { parseRun } from '../lib/cli';
import { removeTempDirs, tempDir } from './helpers/children';
import { deleteNamespaces, Netns, type Answer } from './helpers/netns';
import { codeBlocks } from './helpers/markdown';
import { allProcesses } from './helpers/proc';
import { cleanupSupervisors, SupervisorRun } from './helpers/supervisor';

const ROOT = resolve(__dirname, '..');
const SYSTEMD = join(ROOT, 'examples', 'systemd');
const DOCKER = join(ROOT, 'examples', 'docker');
const APP = join(DOCKER, 'server.js');

afterEach(async () => {
  await cleanupSupervisors();
  deleteNamespaces();
});
afterAll(() => removeTempDirs());

/** An install as the units expect it at /srv/myapp: node_modules/handover (this checkout) and current/server.js. */
function install(): string {
  const dir = tempDir('handover-deploy-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'handover'), 'dir');
  mkdirSync(join(dir, 'current'));
  copyFileSync(APP, join(dir, 'current', 'server.js'));
  return dir;
}

/** The unit's text with its paths pointed at `dir` (and this machine's node). */
function localUnit(text: string, dir: string): string {
  return text.replaceAll('/srv/myapp', dir).replaceAll('/run/myapp', join(dir, 'run')).replaceAll('/usr/bin/node', process.execPath);
}

/** `Key=` of the [Service] section, continuation lines joined. */
function serviceKey(unit: string, key: string): string | undefined {
  const joined = unit.replace(/\\\n\s*/g, ' ');
  const start = joined.indexOf('[Service]');
  const end = joined.indexOf('\n[', start + 1);
  const service = joined.slice(start, end < 0 ? undefined : end);
  return new RegExp(`^${key}=(.*)$`, 'm').exec(service)?.[1].trim();
}

function analyze(units: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile('systemd-analyze', ['verify', ...units], { encoding: 'utf8' }, (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, output: `${stdout}${stderr}` }));
  });
}

function systemdVersion(): Promise<number> {
  return new Promise((done) => execFile('systemd-analyze', ['--version'], { encoding: 'utf8' }, (_err, stdout) => done(Number(/systemd ([0-9]+)/.exec(stdout)?.[1] ?? 0))));
}

const UNITS = readdirSync(SYSTEMD).filter((f) => f.endsWith('.service'));

describe('systemd units', () => {
  it('are the three documented ones', () => {
    expect(UNITS.sort()).toEqual(['myapp-activated.service', 'myapp-notify-reload.service', 'myapp.service']);
  });

  it.each(UNITS)('%s passes systemd-analyze verify, pointed at a real install', async (name) => {
    const dir = install();
    const units = [name, ...(name === 'myapp-activated.service' ? ['myapp-activated.socket'] : [])].map((unit) => {
      const path = join(dir, unit);
      writeFileSync(path, localUnit(readFileSync(join(SYSTEMD, unit), 'utf8'), dir));
      return path;
    });
    const { code, output } = await analyze(units);
    expect(code, output).toBe(0);
    const type = serviceKey(readFileSync(join(SYSTEMD, name), 'utf8'), 'Type');
    // systemd 252 (Debian 12) knows no notify-reload and says so; that unit is for >= 253.
    const typeLine = readFileSync(units[0], 'utf8').split('\n').indexOf('Type=notify-reload') + 1;
    const expected = type === 'notify-reload' && (await systemdVersion()) < 253 ? [`${units[0]}:${typeLine}: Failed to parse service type, ignoring: notify-reload`] : [];
    expect(output.split('\n').filter(Boolean)).toEqual(expected);
    expect(type).toBe(name === 'myapp-notify-reload.service' ? 'notify-reload' : 'notify');
  });

  it.each(UNITS)('%s: ExecStart as written serves and says READY=1; the reload says RELOADING=1, READY=1; SIGTERM to the main pid ends it cleanly', async (name) => {
    const dir = install();
    const unit = localUnit(readFileSync(join(SYSTEMD, name), 'utf8'), dir);
    mkdirSync(join(dir, 'run')); // RuntimeDirectory=
    const systemd = new NotifyListener(join(dir, 'notify.sock'));
    const messages: NotifyMessage[] = [];
    const stored: NotifyMessage[] = [];
    // FDSTORE=1 (FileDescriptorStoreMax=): this listener closes the fds it carries.
    systemd.on('message', (m: NotifyMessage) => (m.fields.get('FDSTORE') === '1' ? stored : messages).push(m));
    try {
      const netns = new Netns();
      const exec = serviceKey(unit, 'ExecStart')!.split(/\s+/);
      const argv = name === 'myapp-activated.service' ? ['systemd-socket-activate', '-l', '8080', '--fdname=web', '-E', 'NOTIFY_SOCKET', '-E', 'HANDOVER_SUPERVISOR_TEST', '-E', 'PATH', ...exec] : exec;
      const { command, args } = netns.wrap(argv);
      const run = new SupervisorRun(args, { command, cwd: serviceKey(unit, 'WorkingDirectory'), env: { NOTIFY_SOCKET: join(dir, 'notify.sock') } });
      const fields = (i: number) => Object.fromEntries(messages[i].fields);

      const first = await netns.firstAnswer(8080); // socket activation: the first connection starts it
      expect(first).toMatchObject({ status: 200, body: expect.stringMatching(/^hello from pid [0-9]+\n$/) });
      await expect.poll(() => messages.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
      expect(fields(0)).toMatchObject({ READY: '1', MAINPID: String(run.pid) });

      const reload = serviceKey(unit, 'ExecReload');
      if (reload === undefined) {
        run.signal('SIGHUP'); // what Type=notify-reload does
      } else {
        const [program, ...rest] = reload.replaceAll('$MAINPID', String(run.pid)).split(/\s+/);
        await new Promise<void>((done, fail) => execFile(program, rest, (err) => (err ? fail(err) : done())));
      }
      await expect.poll(() => messages.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
      expect(fields(1)).toMatchObject({ RELOADING: '1', MONOTONIC_USEC: expect.stringMatching(/^[0-9]+$/) });
      expect(fields(2)).toMatchObject({ READY: '1', STATUS: expect.stringMatching(/^serving: generation 2 /) });
      const second = (await netns.get(8080)) as Extract<Answer, { status: number }>;
      expect(second.status).toBe(200);
      expect(second.body).not.toBe((first as Extract<Answer, { status: number }>).body);

      run.signal('SIGTERM'); // KillMode=mixed: the main process only
      const status = await run.exit;
      const success = [0, ...(serviceKey(unit, 'SuccessExitStatus') ?? '').split(/\s+/).filter(Boolean).map(Number)];
      expect(status.signal).toBeNull();
      expect(success).toContain(status.code);
      expect(Object.fromEntries(messages.at(-1)!.fields)).toMatchObject({ STOPPING: '1' });
      expect(new Set(messages.map((m) => m.pid))).toEqual(new Set([run.pid])); // NotifyAccess=main is enough
      // The unit keeps a fd store exactly when handover stores its socket there (none to store under socket activation).
      const store = Number(serviceKey(unit, 'FileDescriptorStoreMax') ?? 0);
      expect(stored.map((m) => Object.fromEntries(m.fields))).toEqual(store > 0 && name !== 'myapp-activated.service' ? [{ FDSTORE: '1', FDNAME: 'unknown', FDPOLL: '0' }] : []);
      if (store > 0) expect(serviceKey(unit, 'ExecStart')).toMatch(/--fd-store (yes|auto)/);
    } finally {
      systemd.close();
    }
  });
});

/** The Dockerfile's instructions, continuation lines joined. */
function dockerfile(): { instruction: string; args: string }[] {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [instruction, ...rest] = line.trim().split(/\s+/);
      return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
    });
}

describe('Docker', () => {
  const steps = dockerfile();
  const entrypoint = JSON.parse(steps.find((s) => s.instruction === 'ENTRYPOINT')!.args) as string[];
  const cmd = JSON.parse(steps.find((s) => s.instruction === 'CMD')!.args) as string[];

  it('copies only files that exist in the build context (the repository root), index.js included', () => {
    const copies = steps.filter((s) => s.instruction === 'COPY' && !s.args.startsWith('--from'));
    const sources = copies.flatMap((s) => s.args.split(/\s+/).slice(0, -1));
    expect(sources).toContain('index.js');
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    // Everything the package's "files" holds is there to be packed.
    const files = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const entry of files.filter((f) => !f.includes('*') && f !== 'prebuilds/').map((f) => f.replace(/^\//, ''))) {
      expect(sources.some((source) => entry === source || entry.startsWith(`${source.replace(/\/$/, '')}/`)), entry).toBe(true);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const built of ['node_modules', 'build', 'dist']) expect(ignored).toContain(built);
  });

  it('starts handover run with options handover accepts, and the app it copied', () => {
    expect(entrypoint.slice(0, 2)).toEqual(['node', '/app/node_modules/handover/bin/handover.js']);
    expect(entrypoint[2]).toBe('run');
    expect(parseRun([...entrypoint.slice(3), ...cmd])).toMatchObject({ command: 'node', args: ['server.js'], listen: [{ kind: 'tcp', port: 8080 }] });
    expect(cmd[0]).toBe('--'); // CMD leaves room for options before the app
    expect(steps.find((s) => s.instruction === 'COPY' && s.args.includes('examples/docker/server.js'))).toBeDefined();
  });

  it('the same command line, as PID 1 of a new pid namespace, serves, reloads on SIGHUP and exits 0 on SIGTERM', async () => {
    const app = tempDir('handover-docker-'); // /app
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(ROOT, join(app, 'node_modules', 'handover'), 'dir');
    copyFileSync(APP, join(app, 'server.js'));
    const argv = [...entrypoint, ...cmd].map((arg) => arg.replace(/^\/(app|tmp)\//, `${app}/`));
    const netns = new Netns();
    const { command, args } = netns.wrap(['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...argv]);
    const run = new SupervisorRun(args, { command, cwd: app });
    await run.log(/^handover\[1\]: generation 1 \(pid [0-9]+\) is ready/);
    const first = await netns.get(8080);
    expect(first).toMatchObject({ status: 200 });
    // PID 1 as the host sees it: unshare's only child.
    await expect.poll(() => allProcesses().filter((p) => p.ppid === run.pid).length, { timeout: 10_000 }).toBe(1);
    const pid1 = allProcesses().find((p) => p.ppid === run.pid)!.pid;
    process.kill(pid1, 'SIGHUP'); // docker kill --signal=HUP
    await run.log(/^handover\[1\]: reloaded: generation 2 \(pid [0-9]+\) serves/);
    const second = await netns.get(8080);
    expect(second).toMatchObject({ status: 200 });
    expect(second).not.toEqual(first);
    process.kill(pid1, 'SIGTERM'); // docker stop
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });
});

describe('Kubernetes', () => {
  const deployment = parseYaml(readFileSync(join(ROOT, 'examples', 'kubernetes', 'deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: { args: string[]; ports: { containerPort: number }[]; readinessProbe: { httpGet: { path: string; port: number } }; livenessProbe: { httpGet: { path: string; port: number } } }[] } } };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const entrypoint = JSON.parse(dockerfile().find((s) => s.instruction === 'ENTRYPOINT')!.args) as string[];

  it('adds options to the image\'s handover run, probes its health port, and gives the app longer than its delay and drain before SIGKILL', () => {
    const options = parseRun([...entrypoint.slice(3), ...container.args]);
    if (options === 'help') throw new Error('the args ask for --help');
    expect(options).toMatchObject({ command: 'node', args: ['server.js'], listen: [{ kind: 'tcp', port: 8080 }], health: '0.0.0.0:9091', shutdownDelay: 5000 });
    expect(container.ports.map((p) => p.containerPort)).toEqual([8080, 9091]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9091 });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 9091 });
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(options.shutdownDelay! + DEFAULT_DRAIN_TIMEOUT);
  });
});

describe("the README's deploy script (deploy.sh)", () => {
  const script = codeBlocks(join(ROOT, 'README.md')).find((b) => b.lang === 'sh' && b.attrs.get('file') === 'deploy.sh')!;

  /** /srv/myapp with releases good1, good2 (each says its name) and broken (exits at start), current → good1. */
  function releases(): string {
    const dir = install();
    rmSync(join(dir, 'current'), { recursive: true });
    for (const name of ['good1', 'good2', 'broken']) {
      mkdirSync(join(dir, 'releases', name), { recursive: true });
      const app = name === 'broken' ? "console.error('broken: missing configuration'); process.exit(1);\n" : `require('handover').listenAndServe(8080, (req, res) => res.end('${name}\\n'));\n`;
      writeFileSync(join(dir, 'releases', name, 'server.js'), app);
    }
    symlinkSync('releases/good1', join(dir, 'current'));
    mkdirSync(join(dir, 'node_modules', '.bin'));
    symlinkSync(join(ROOT, 'bin', 'handover.js'), join(dir, 'node_modules', '.bin', 'handover'));
    mkdirSync(join(dir, 'run'));
    writeFileSync(join(dir, 'deploy.sh'), script.code.replaceAll('/srv/myapp', dir));
    return dir;
  }

  function deploy(dir: string, release: string): Promise<{ code: number; output: string }> {
    return new Promise((done) => {
      execFile('sh', [join(dir, 'deploy.sh'), release], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, output: `${stdout}${stderr}` }));
    });
  }

  it('switches to a good release (exit 0), and puts back the previous one after a release that fails (exit 1)', async () => {
    const dir = releases();
    const netns = new Netns();
    const { command, args } = netns.wrap([process.execPath, join(ROOT, 'bin', 'handover.js'), 'run', '--listen', '8080', '--pid-file', join(dir, 'run', 'handover.pid'), '--probation', '1s', '--', process.execPath, join(dir, 'current', 'server.js')]);
    const run = new SupervisorRun(args, { command, cwd: dir });
    await run.log(/generation 1 \(pid [0-9]+\) is ready/);
    expect(await netns.get(8080)).toEqual({ status: 200, body: 'good1\n' });

    const good = await deploy(dir, 'good2');
    expect(good, good.output).toMatchObject({ code: 0 });
    expect(readlinkSync(join(dir, 'current'))).toBe('releases/good2');
    expect(await netns.get(8080)).toEqual({ status: 200, body: 'good2\n' });

    const broken = await deploy(dir, 'broken');
    expect(broken.code, broken.output).toBe(1);
    expect(broken.output).toMatch(/^handover: reload failed: .*exit/m); // handover reload says why
    expect(readlinkSync(join(dir, 'current'))).toBe('releases/good2');
    expect(await netns.get(8080)).toEqual({ status: 200, body: 'good2\n' });
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });
});
