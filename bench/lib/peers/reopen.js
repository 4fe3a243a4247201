// Reopens one store in a fresh Node process, as a restarting application would: a clean heap and
// code that has not run yet. The system's module is loaded before the clock starts; the clock
// covers opening the store and the first get. Prints { ms, ...details, windows } as JSON.
// Usage (from child.js): node reopen.js <system> <dir> <firstKey> <label>
import { openWindow, windows } from '../measure.js'
import { makeSystem } from './systems.js'

const [system, dir, firstKey, label] = process.argv.slice(2)
const sys = makeSystem(system, () => {})
if (sys.init) await sys.init()
sys.dir = dir
const win = openWindow(label)
const t0 = performance.now()
const extra = await sys.reopen(firstKey)
const ms = performance.now() - t0
win()
await sys.close()
process.stdout.write(JSON.stringify({ ms, ...extra, windows: windows.map((w) => ({ ...w, pid: process.pid })) }))
