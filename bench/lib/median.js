'use strict';
// The median of a benchmark's rounds: the middle value, or the mean of the
// two middle ones; entries that are not numbers (a round that produced no
// figure) are left out; null when none is left.

function median(values) {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

module.exports = { median };
