// islabdb is an ES module. Node.js versions that can require() an ES module (>= 20.19, >= 22.12)
// load dist/index.js through the "module-sync" export condition; older ones land here instead of
// failing with ERR_PACKAGE_PATH_NOT_EXPORTED, and are told what to write.
'use strict'
const error = new Error(
  "islabdb is an ES module; this Node.js cannot require() it (require(esm) needs Node >= 20.19 or >= 22.12). " +
    "Load it with `const { open } = await import('islabdb')` from CommonJS, or `import { open } from 'islabdb'` from an ES module " +
    "(the same for islabdb/level, islabdb/server and islabdb/replication).",
)
error.code = 'ERR_REQUIRE_ESM'
throw error
