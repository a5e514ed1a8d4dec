'use strict';
// The app of the container: an ordinary GracefulServer. Under `handover run
// --listen 8080` it adopts the socket handover passes as fd 3 (same address),
// says READY=1 to handover, and drains on SIGTERM.
const { listenAndServe } = require('handover');

listenAndServe(8080, (req, res) => {
  res.end(`hello from pid ${process.pid}\n`);
});
