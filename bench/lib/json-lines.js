'use strict';
// The benchmark servers speak one JSON object per line on stdout
// (bench/servers/announce.js, the supervisor's app events).
const { createInterface } = require('node:readline');

/**
 * Calls `onEvent(object)` for each line of `stream` that is a JSON object;
 * `onOther(line)`, if given, for every other line (default: ignored).
 */
function eachJsonLine(stream, onEvent, onOther = () => {}) {
  createInterface({ input: stream }).on('line', (line) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      onOther(line);
      return;
    }
    if (value !== null && typeof value === 'object') onEvent(value);
    else onOther(line);
  });
}

module.exports = { eachJsonLine };
