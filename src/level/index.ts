// islabdb/level: IsLabDB as an abstract-level 3 database (docs/level.md).
export { IslabLevel, IslabSnapshot } from './islabLevel.js'
export type { IslabLevelOptions, IslabOpenOptions, LevelDatabase } from './islabLevel.js'
