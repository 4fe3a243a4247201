// islabdb/server: IsLabDB over the Redis protocol (docs/server.md). A face of the database,
// separate from the core: it uses only the public API, and the core does not know it exists.
export { serve } from './server.js'
export type { RedisServer, ServeOptions } from './server.js'
