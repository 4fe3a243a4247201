// The Redis version this server answers as (HELLO's version, INFO's redis_version). It is the
// version whose replies and error texts the tests compare against (test/server/differential.test.ts
// runs Debian's redis-server 7.0.15 beside this server): claiming a later one (7.2, 7.4) would
// promise what we do not implement (7.2's CLIENT NO-TOUCH, 7.4's hash field expiry, ...), and
// clients read the version to decide which commands to send.
export const REDIS_VERSION = '7.0.15'
