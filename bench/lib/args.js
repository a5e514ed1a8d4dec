'use strict';
// The command-line options of the benchmark scripts: `--name value` or
// `--name=value`; a mistake prints a usage line and exits with code 2.

/** A function that prints `message` and the usage line, then exits 2. */
function usageError(usageLine) {
  return (message) => {
    process.stderr.write(`${message}\nusage: ${usageLine}\n`);
    process.exit(2);
  };
}

/**
 * Calls `take(name, value)` for each argument; `value()` reads the option's
 * value (after `=`, or the next argument). `take` returns false for a name it
 * does not know.
 */
function eachOption(argv, usage, take) {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline !== undefined ? inline : argv[++i];
      if (v === undefined) usage(`${name} needs a value`);
      return v;
    };
    if (take(name, value) === false) usage(`unknown argument ${arg}`);
  }
}

/** `raw` as an integer of at least `min`, else a usage error. */
function intOption(usage, name, raw, min) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) usage(`${name} must be an integer >= ${min}, got ${raw}`);
  return n;
}

/**
 * `--passes keep-alive,close` as the list of passes to run, in that order:
 * true for keep-alive, false for `Connection: close`; else a usage error.
 */
function passesOption(usage, raw) {
  const passes = raw.split(',').filter(Boolean);
  if (passes.length === 0 || passes.some((p) => p !== 'keep-alive' && p !== 'close')) usage('--passes takes keep-alive, close or both');
  return [true, false].filter((keepAlive) => passes.includes(keepAlive ? 'keep-alive' : 'close'));
}

module.exports = { eachOption, intOption, passesOption, usageError };
