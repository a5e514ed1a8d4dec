'use strict';
// A realistic app for `npm run bench:startup`'s compile-cache rows: express
// (its router, body parsers, send, etc.: some 130 modules of node_modules),
// a few routes with JSON and URL-encoded bodies. Run as a program, it serves
// under handover: a GracefulServer that upgrades itself on SIGHUP, or, under
// `handover run` (HANDOVER_WORKERS set), a generation that the supervisor
// reloads. Either way it says ready (bench/servers/announce.js) once it serves.
const http = require('node:http');

function app() {
  const express = require('express');
  const app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: true }));
  const router = express.Router();
  router.get('/items/:id', (req, res) => res.json({ id: req.params.id, q: req.query }));
  router.post('/items', (req, res) => res.status(201).json(req.body));
  app.use('/api', router);
  app.get('/', (req, res) => res.send('hello world'));
  app.use((err, req, res, next) => res.status(500).json({ error: err.message }));
  return app;
}

if (require.main === module) {
  const { GracefulServer } = require('../..');
  const { announceReady } = require('../servers/announce');
  const supervised = process.env.HANDOVER_WORKERS !== undefined;
  const server = http.createServer(app());
  const compileCache = process.env.COMPILE_CACHE === 'off' ? false : process.env.COMPILE_CACHE || undefined;
  const gs = new GracefulServer(server, { drainTimeout: 5_000, upgradeSignals: supervised ? false : undefined, compileCache });
  gs.upgrader.on('ready', () => announceReady(server.address().port));
  gs.listen(Number(process.env.PORT || 0), '127.0.0.1');
}

module.exports = { app };
