// The error contract: HandoverError's stable codes and fields, and system
// errors shaped exactly like Node's own. A code, once published, never changes.
import { mkdirSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, HandoverError, systemError } from '../../lib/index';

describe('HandoverError', () => {
  it('ERROR_CODES: exactly these codes, each described', () => {
    expect(Object.keys(ERROR_CODES)).toEqual([
      'ERR_INVALID_ARG_TYPE',
      'ERR_INVALID_ARG_VALUE',
      'ERR_NOT_SUPPORTED',
      'ERR_EXEC',
      'ERR_CHILD_EXITED',
      'ERR_UPGRADE_TIMEOUT',
      'ERR_STOPPED',
      'ERR_UPGRADE_IN_PROGRESS',
      'ERR_NOT_READY',
      'ERR_ALREADY_UPGRADED',
      'ERR_PARENT_DRAINING',
      'ERR_INHERITED_FDS',
    ]);
    for (const [code, description] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z_]+$/);
      expect(typeof description, code).toBe('string');
      expect(description.length, code).toBeGreaterThan(0);
    }
  });

  it('name, code, message, cause, extra fields; an Error with a stack', () => {
    const cause = Object.assign(new Error('ENOENT: no such file or directory, execve \'/x\''), { code: 'ENOENT' });
    const err = new HandoverError('ERR_EXEC', 'the new process could not be started', { cause, exitCode: 3, signal: null });
    expect(err).toBeInstanceOf(HandoverError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('HandoverError');
    expect(err.code).toBe('ERR_EXEC');
    expect(err.message).toBe('the new process could not be started');
    expect(err.cause).toBe(cause);
    expect(err).toMatchObject({ exitCode: 3, signal: null });
    expect(Object.keys(err)).not.toContain('cause');
    expect(err.stack).toMatch(/^HandoverError: the new process could not be started\n/);
    expect(String(err)).toBe('HandoverError: the new process could not be started');
    expect(Object.prototype.toString.call(err)).toBe('[object Error]');
  });

  it('no cause unless one is given', () => {
    const err = new HandoverError('ERR_NOT_READY', 'not ready');
    expect('cause' in err).toBe(false);
    expect(new HandoverError('ERR_NOT_READY', 'not ready', {})).not.toHaveProperty('cause');
  });
});

describe('systemError', () => {
  function nodeError(run: () => unknown): NodeJS.ErrnoException {
    try {
      run();
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
    throw new Error('expected a failure');
  }

  it('the same shape and message as Node\'s own error (fs.openSync)', () => {
    const real = nodeError(() => openSync('/nonexistent', 'r'));
    const ours = systemError(real.errno!, real.syscall!, real.path);
    expect(ours).toBeInstanceOf(Error);
    expect(ours.message).toBe(real.message);
    expect(ours.message).toBe("ENOENT: no such file or directory, open '/nonexistent'");
    expect({ code: ours.code, errno: ours.errno, syscall: ours.syscall, path: ours.path }).toEqual({
      code: real.code, errno: real.errno, syscall: real.syscall, path: real.path,
    });
    expect(Object.keys(ours).sort()).toEqual(Object.keys(real).sort());
  });

  it('other errnos match Node\'s too (mkdir EEXIST, open EISDIR, ENOTDIR)', () => {
    for (const run of [() => mkdirSync('/'), () => openSync('/', 'w'), () => openSync('/etc/hostname/x', 'r')]) {
      const real = nodeError(run);
      const ours = systemError(real.errno!, real.syscall!, real.path);
      expect(ours.message).toBe(real.message);
      expect(ours.code).toBe(real.code);
    }
  });

  it('without a path: no path field, no quoted path', () => {
    const err = systemError(-osConstants.errno.EBADF, 'fstat');
    expect(err.message).toBe('EBADF: bad file descriptor, fstat');
    expect(err).toMatchObject({ code: 'EBADF', errno: -osConstants.errno.EBADF, syscall: 'fstat' });
    expect(err).not.toHaveProperty('path');
  });

  it('errnos that libuv does not name (ECHILD, ENOEXEC) get their code and strerror\'s words', () => {
    expect(systemError(-osConstants.errno.ENOEXEC, 'execve', '/x').message).toBe("ENOEXEC: exec format error, execve '/x'");
    expect(systemError(-osConstants.errno.ECHILD, 'waitpid')).toMatchObject({
      code: 'ECHILD', errno: -osConstants.errno.ECHILD, message: 'ECHILD: no child processes, waitpid',
    });
    expect(systemError(-osConstants.errno.ESRCH, 'kill')).toMatchObject({ code: 'ESRCH', message: 'ESRCH: no such process, kill' });
  });

  it('extra fields are copied', () => {
    expect(systemError(-osConstants.errno.EBADF, 'dup2', undefined, { fd: 7, index: 3 })).toMatchObject({ fd: 7, index: 3, code: 'EBADF' });
  });

  it('an unknown errno still gives an Error with that errno', () => {
    const err = systemError(-99999, 'frobnicate');
    expect(err).toBeInstanceOf(Error);
    expect(err.errno).toBe(-99999);
    expect(err.syscall).toBe('frobnicate');
    expect(err.message).toContain('frobnicate');
  });
});
