// The physics layer's surface for the database facade (src/db) and the public API.
export { Physics, every, metricsOf, physicsView, resolvePhysics } from './physics.js'
export type { AccessBatch, MemoryOptions, Metrics, PhysicsConfig, PhysicsMetrics, PhysicsOptions, PhysicsView } from './physics.js'
export { EntanglementRules, checkEntangle, checkStrength, partnersOf, DEFAULT_STRENGTH, MAX_PARTNERS, MIN_STRENGTH } from './entanglement.js'
export type { EntanglementRule } from './entanglement.js'
export type { DemonOptions, DemonState, EntropyReading, Spread } from './entropy.js'
export type { Wormhole, WormholeOptions } from './wormholes.js'
export type { TierBudget, TierCounters } from './spacetimeTiers.js'
