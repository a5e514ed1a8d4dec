'use strict';
// The app of the container: an ordinary GracefulServer. Under `handover run
// --listen 8080` it adopts the socket handover passes as fd 3 (same address),
// says READY=1 to handover, and drains on SIGTERM. Reloads are the
// supervisor's job (SIGHUP to PID 1), so the app's own upgrade signals are
// off. (Keeping the pod in rotation a little after SIGTERM is the
// supervisor's --shutdown-delay.)
const { listenAndServe } = require('handover');

listenAndServe(8080, (req, res) => res.end(`hello from pid ${process.pid}\n`), { upgradeSignals: false });
