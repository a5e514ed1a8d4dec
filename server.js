'use strict';
// handover/server (package.json "exports"): the main entry without the
// supervisor layer (`handover run`'s process model), for servers written as
// ES modules. `import { GracefulServer } from 'handover'` loads the supervisor
// layer at every start: Node makes an ES module's view of a CommonJS entry by
// reading every named export, and the supervisor's exports are getters that
// load it (index.js). `require('handover')` does not, nor does this entry,
// whichever way it is loaded. Same values, same types, minus the
// supervisor's; test/public-api.test.ts keeps the two lists in step. The
// getters are written in the form cjs-module-lexer reads, so that
// `import { … }` finds each name.
const handover = require('./dist/index.js');
Object.defineProperty(exports, 'forkExecWithFds', { enumerable: true, get: function () { return handover.forkExecWithFds; } });
Object.defineProperty(exports, 'DEFAULT_FILES', { enumerable: true, get: function () { return handover.DEFAULT_FILES; } });
Object.defineProperty(exports, 'MAX_FILES', { enumerable: true, get: function () { return handover.MAX_FILES; } });
Object.defineProperty(exports, 'waitPid', { enumerable: true, get: function () { return handover.waitPid; } });
Object.defineProperty(exports, 'inspectFd', { enumerable: true, get: function () { return handover.inspectFd; } });
Object.defineProperty(exports, 'setCloexec', { enumerable: true, get: function () { return handover.setCloexec; } });
Object.defineProperty(exports, 'dupCloexec', { enumerable: true, get: function () { return handover.dupCloexec; } });
Object.defineProperty(exports, 'HandoverError', { enumerable: true, get: function () { return handover.HandoverError; } });
Object.defineProperty(exports, 'ERROR_CODES', { enumerable: true, get: function () { return handover.ERROR_CODES; } });
Object.defineProperty(exports, 'systemError', { enumerable: true, get: function () { return handover.systemError; } });
Object.defineProperty(exports, 'signalName', { enumerable: true, get: function () { return handover.signalName; } });
Object.defineProperty(exports, 'signalNumber', { enumerable: true, get: function () { return handover.signalNumber; } });
Object.defineProperty(exports, 'Upgrader', { enumerable: true, get: function () { return handover.Upgrader; } });
Object.defineProperty(exports, 'DEFAULT_UPGRADE_TIMEOUT', { enumerable: true, get: function () { return handover.DEFAULT_UPGRADE_TIMEOUT; } });
Object.defineProperty(exports, 'FAILED_CHILD_GRACE', { enumerable: true, get: function () { return handover.FAILED_CHILD_GRACE; } });
Object.defineProperty(exports, 'listenOnFd', { enumerable: true, get: function () { return handover.listenOnFd; } });
Object.defineProperty(exports, 'sdNotify', { enumerable: true, get: function () { return handover.sdNotify; } });
Object.defineProperty(exports, 'NotifyListener', { enumerable: true, get: function () { return handover.NotifyListener; } });
Object.defineProperty(exports, 'formatNotify', { enumerable: true, get: function () { return handover.formatNotify; } });
Object.defineProperty(exports, 'parseNotify', { enumerable: true, get: function () { return handover.parseNotify; } });
Object.defineProperty(exports, 'takeInheritedFds', { enumerable: true, get: function () { return handover.takeInheritedFds; } });
Object.defineProperty(exports, 'LISTEN_FDS_START', { enumerable: true, get: function () { return handover.LISTEN_FDS_START; } });
Object.defineProperty(exports, 'parseAddress', { enumerable: true, get: function () { return handover.parseAddress; } });
Object.defineProperty(exports, 'parseListenArgs', { enumerable: true, get: function () { return handover.parseListenArgs; } });
Object.defineProperty(exports, 'writePidFile', { enumerable: true, get: function () { return handover.writePidFile; } });
Object.defineProperty(exports, 'DrainCounter', { enumerable: true, get: function () { return handover.DrainCounter; } });
Object.defineProperty(exports, 'ServerDrainer', { enumerable: true, get: function () { return handover.ServerDrainer; } });
Object.defineProperty(exports, 'DEFAULT_DRAIN_TIMEOUT', { enumerable: true, get: function () { return handover.DEFAULT_DRAIN_TIMEOUT; } });
Object.defineProperty(exports, 'DEFAULT_DRAIN_IDLE_TIMEOUT', { enumerable: true, get: function () { return handover.DEFAULT_DRAIN_IDLE_TIMEOUT; } });
Object.defineProperty(exports, 'GracefulServer', { enumerable: true, get: function () { return handover.GracefulServer; } });
Object.defineProperty(exports, 'DEFAULT_UPGRADE_SIGNALS', { enumerable: true, get: function () { return handover.DEFAULT_UPGRADE_SIGNALS; } });
Object.defineProperty(exports, 'DEFAULT_SHUTDOWN_SIGNALS', { enumerable: true, get: function () { return handover.DEFAULT_SHUTDOWN_SIGNALS; } });
Object.defineProperty(exports, 'DEFAULT_DRAIN_RAMP', { enumerable: true, get: function () { return handover.DEFAULT_DRAIN_RAMP; } });
Object.defineProperty(exports, 'listenAndServe', { enumerable: true, get: function () { return handover.listenAndServe; } });
Object.defineProperty(exports, 'bindSocket', { enumerable: true, get: function () { return handover.bindSocket; } });
Object.defineProperty(exports, 'formatAddress', { enumerable: true, get: function () { return handover.formatAddress; } });
module.exports.default = module.exports;
