import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

const child = new URL('../fixtures/holdLock.mjs', import.meta.url).pathname

describe('directory lock across processes', () => {
  it('rejects ISLAB_LOCKED while another process has it open, and reopens by itself after that process is SIGKILLed', async () => {
    const dir = tmpDir()
    const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [chunk] = (await once(proc.stdout!, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('open\n')
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_LOCKED', holderPid: proc.pid })
    proc.kill('SIGKILL')
    await once(proc, 'exit')
    const db = await open({ dir })
    expect(db.get('from-child')).toBe(proc.pid)
    await db.close()
  })
})
