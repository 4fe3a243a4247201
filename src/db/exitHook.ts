// One `beforeExit` listener for every open database of the process, instead of one each (eleven
// open databases made Node print MaxListenersExceededWarning).

const flushes = new Set<() => void>()

function onBeforeExit(): void {
  for (const flush of flushes) flush()
}

/**
 * Calls `flush` when the event loop drains (buffered writes still pending are written before the
 * process exits). Returns the function that unregisters it.
 */
export function flushBeforeExit(flush: () => void): () => void {
  if (flushes.size === 0) process.on('beforeExit', onBeforeExit)
  flushes.add(flush)
  return () => {
    if (!flushes.delete(flush)) return
    if (flushes.size === 0) process.off('beforeExit', onBeforeExit)
  }
}
