import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, DeliverPolicy, AckPolicy } from '@nats-io/jetstream'
const nc = await connect({ servers: '127.0.0.1:14222' })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: 'T', subjects: ['t.ev'], duplicate_window: 120e9 })
const js = jetstream(nc)
const p = (s, id, exp) => js.publish('t.ev', new TextEncoder().encode('x' + s), { msgID: id, expect: { lastSequence: exp } })
console.log(await p(1, 'a:1', 0))
console.log(await p(2, 'a:2', 1))
console.log('dup retry', await p(2, 'a:2', 1))
try { await p(2, 'b:2', 1) } catch (e) { console.log('wrong', e.constructor.name, e.code, e.message, e.api_error) }
// pipelined
const ps = []; for (let s = 3; s <= 10; s++) ps.push(p(s, 'a:' + s, s - 1))
console.log((await Promise.all(ps)).map(a => a.seq))
const m = await jsm.streams.getMessage('T', { seq: 5 })
console.log('get', m.seq, m.header?.get('Nats-Msg-Id'), new TextDecoder().decode(m.data))
const c = await js.consumers.get('T', { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 4 })
const it = await c.consume()
let n = 0
for await (const msg of it) { console.log('c', msg.seq, msg.info.pending, msg.headers?.get('Nats-Msg-Id')); if (++n === 7) break }
const info = await jsm.streams.info('T'); console.log(info.state)
console.log(await jsm.streams.purge('T', { keep: 3 }))
console.log((await jsm.streams.info('T')).state)
const os = await (await import('@nats-io/obj')).Objm
console.log(Object.keys(await import('@nats-io/obj')))
await nc.close()
