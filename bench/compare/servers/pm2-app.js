'use strict';
// The benchmark handler for the pm2 row (`pm2 start` in cluster mode, `pm2
// reload`): a plain http.Server with the graceful stop pm2's documentation
// asks of an app — pm2 sends SIGINT to the old worker (SIGKILL after
// kill_timeout), the app closes its server and exits when it is done.
// In cluster mode with several instances it says what it served at exit.
const http = require('node:http');
const hello = require('../../servers/hello');
const { counted } = require('../../servers/announce');

const server = http.createServer();
server.on('request', process.env.COUNT_SERVED === '1' ? counted(hello, server) : hello);
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGINT', () => server.close(() => process.exit(0)));
