// The Redis version this server answers as (HELLO, INFO redis_version): the command set and
// error texts follow Redis 7.2. Clients read it to decide which commands to use.
export const REDIS_VERSION = '7.2.0'
