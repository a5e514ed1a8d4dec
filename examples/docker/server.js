'use strict';
// The app of the container: an ordinary GracefulServer. Under `handover run
// --listen 8080` it adopts the socket handover passes as fd 3 (same address),
// says READY=1 to handover, and drains on SIGTERM. Reloads are the
// supervisor's (SIGHUP to PID 1); a SIGHUP the app gets itself asks the
// supervisor for one. (Keeping the pod in rotation a little after SIGTERM is the
// supervisor's --shutdown-delay.)
const { listenAndServe } = require('handover');

listenAndServe(8080, (req, res) => res.end(`hello from pid ${process.pid}\n`));
