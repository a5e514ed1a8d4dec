'use strict';
// The benchmark handler, the same for every row: hello world, plus the
// fourth seed's /sleep?duration=ms.
module.exports = function hello(req, res) {
  if (req.url.startsWith('/sleep')) {
    const ms = Math.min(Number(new URL(req.url, 'http://x').searchParams.get('duration')) || 0, 60_000);
    setTimeout(() => res.end('slept\n'), ms);
    return;
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end('hello world\n');
};
