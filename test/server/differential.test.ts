// Compatibility, checked against Redis itself: the same command sequences go to a real
// redis-server (Debian's, started by the test) and to `serve`, and the replies must be the same —
// values, types and error texts. A case marked `unordered` compares arrays as sets (KEYS and
// SCAN list keys in Redis's hash order, ours in key order). What differs on purpose is in
// docs/server.md and tested in differences.test.ts, not here.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensureTool, startServer } from '../helpers/systemTool.js'
import type { RunningServer } from '../helpers/systemTool.js'
import { RawClient, parseReply, resp, startServed } from './fixture.js'
import type { Parsed, Served } from './fixture.js'

interface Case {
  name: string
  commands: string[][]
  /** Compare arrays as sets (sorted), at every level. */
  unordered?: boolean
  /** Speak RESP3 (HELLO 3 first; its reply, which names the server, is not compared). */
  resp3?: boolean
  /**
   * Integers are times (TTL, PTTL, EXPIRETIME) that differ by the moments the two servers ran:
   * equal within 0.2% (a TTL of 100 s within 1, a PTTL of 100000 ms within 200 ms). Integers
   * under 10 (counts, 0/1 answers, -1/-2) stay exact.
   */
  approx?: boolean
}

const c = (name: string, commands: string[][], opts: Partial<Case> = {}): Case => ({ name, commands, ...opts })

const MAX = '9223372036854775807'
const MIN = '-9223372036854775808'

const CASES: Case[] = [
  // --- strings
  c('SET and GET', [['SET', 'k', 'v'], ['GET', 'k'], ['GET', 'nokey'], ['SET', 'k', 'v2'], ['GET', 'k']]),
  c('SET NX/XX/GET', [
    ['SET', 'k', 'a', 'NX'], ['SET', 'k', 'b', 'NX'], ['SET', 'k', 'c', 'XX'], ['SET', 'no', 'x', 'XX'], ['GET', 'k'], ['SET', 'k', 'd', 'GET'],
    ['SET', 'fresh', 'e', 'GET'], ['SET', 'k', 'f', 'NX', 'GET'], ['SET', 'k', 'g', 'XX', 'GET'], ['SET', 'k', 'x', 'NX', 'XX'], ['SET', 'k', 'x', 'BOGUS'],
    ['SET', 'k', 'x', 'KEEPTTL'], ['GET', 'k'], ['SET', 'k', 'x', 'EX', '0'], ['SET', 'k', 'x', 'EX', 'abc'], ['SET', 'k', 'x', 'PX'], ['SET', 'k'],
  ]),
  c('SET GET on a hash', [['HSET', 'h', 'f', 'v'], ['SET', 'h', 'x', 'GET'], ['GET', 'h'], ['SET', 'h', 'x'], ['GET', 'h']]),
  c('SETNX GETSET GETDEL', [
    ['SETNX', 'k', '1'], ['SETNX', 'k', '2'], ['GETSET', 'k', '3'], ['GETSET', 'new', '4'], ['GETDEL', 'k'], ['GETDEL', 'k'], ['EXISTS', 'k'],
    ['HSET', 'h', 'f', 'v'], ['GETSET', 'h', 'x'], ['GETDEL', 'h'], ['SETNX', 'k'],
  ]),
  c('MGET MSET MSETNX', [
    ['MSET', 'a', '1', 'b', '2'], ['MGET', 'a', 'b', 'c'], ['HSET', 'h', 'f', 'v'], ['MGET', 'a', 'h'], ['MSET', 'a', '1', 'b'],
    ['MSETNX', 'x', '1', 'y', '2'], ['MSETNX', 'y', '3', 'z', '4'], ['MGET', 'x', 'y', 'z'], ['MSETNX', 'x'], ['MSET', 'a', '9', 'a', '10'], ['GET', 'a'],
  ]),
  c('APPEND STRLEN', [
    ['APPEND', 'k', 'abc'], ['APPEND', 'k', 'def'], ['GET', 'k'], ['STRLEN', 'k'], ['STRLEN', 'nokey'], ['HSET', 'h', 'f', 'v'], ['APPEND', 'h', 'x'], ['STRLEN', 'h'],
    ['SET', 'u', 'héllo'], ['STRLEN', 'u'], ['APPEND', 'k', ''],
  ]),
  c('GETRANGE', [
    ['SET', 'k', 'Hello World'], ['GETRANGE', 'k', '0', '4'], ['GETRANGE', 'k', '-5', '-1'], ['GETRANGE', 'k', '0', '-1'], ['GETRANGE', 'k', '5', '2'],
    ['GETRANGE', 'k', '100', '200'], ['GETRANGE', 'k', '-100', '-50'], ['GETRANGE', 'k', '-1', '-5'], ['GETRANGE', 'k', '3', '100'], ['GETRANGE', 'nokey', '0', '-1'],
    ['GETRANGE', 'k', 'a', '1'], ['SET', 'e', ''], ['GETRANGE', 'e', '0', '-1'], ['HSET', 'h', 'f', 'v'], ['GETRANGE', 'h', '0', '1'],
  ]),
  c('SETRANGE', [
    ['SET', 'k', 'Hello World'], ['SETRANGE', 'k', '6', 'Redis'], ['GET', 'k'], ['SETRANGE', 'pad', '5', 'x'], ['GET', 'pad'], ['SETRANGE', 'k', '-1', 'x'],
    ['SETRANGE', 'missing', '3', ''], ['EXISTS', 'missing'], ['SETRANGE', 'k', '100', ''], ['SETRANGE', 'k', '536870912', 'x'], ['SETRANGE', 'k', 'x', 'y'],
  ]),
  c('INCR DECR INCRBY DECRBY', [
    ['INCR', 'n'], ['INCRBY', 'n', '10'], ['DECR', 'n'], ['DECRBY', 'n', '3'], ['INCRBY', 'n', '-100'], ['GET', 'n'], ['SET', 's', 'abc'], ['INCR', 's'],
    ['SET', 'f', '1.5'], ['INCR', 'f'], ['SET', 'sp', ' 1'], ['INCR', 'sp'], ['SET', 'z', '007'], ['INCR', 'z'], ['INCRBY', 'n', 'x'], ['INCRBY', 'n', '1.0'],
    ['SET', 'm', MAX], ['INCR', 'm'], ['SET', 'mn', MIN], ['DECR', 'mn'], ['DECRBY', 'n', MIN], ['INCRBY', 'n', '99999999999999999999'],
    ['SET', 'big', '9007199254740993'], ['INCR', 'big'], ['GET', 'big'], ['HSET', 'h', 'f', 'v'], ['INCR', 'h'], ['SET', 'neg0', '-0'], ['INCR', 'neg0'],
  ]),
  c('INCRBYFLOAT', [
    ['SET', 'f', '10.50'], ['INCRBYFLOAT', 'f', '0.1'], ['INCRBYFLOAT', 'f', '-5'], ['SET', 'e', '5.0e3'], ['INCRBYFLOAT', 'e', '2.0e2'],
    ['INCRBYFLOAT', 'new', '3'], ['INCRBYFLOAT', 'new', '1.5e1'], ['INCRBYFLOAT', 'f', 'abc'], ['SET', 's', 'abc'], ['INCRBYFLOAT', 's', '1'],
    ['INCRBYFLOAT', 'p', '0.1'], ['INCRBYFLOAT', 'p', '0.2'], ['INCRBYFLOAT', 'f', 'inf'], ['HSET', 'h', 'f', 'v'], ['INCRBYFLOAT', 'h', '1'],
    ['INCRBYFLOAT', 'i', '-0.5'], ['INCRBYFLOAT', 'i', '0.5'], ['GET', 'i'],
  ]),
  // --- keys
  c('DEL UNLINK EXISTS', [
    ['MSET', 'a', '1', 'b', '2', 'c', '3'], ['EXISTS', 'a', 'a', 'b', 'x'], ['DEL', 'a', 'x', 'a'], ['UNLINK', 'b', 'c', 'd'], ['EXISTS', 'a', 'b', 'c'], ['DEL'], ['EXISTS'],
  ]),
  c('TYPE', [['SET', 's', 'v'], ['HSET', 'h', 'f', 'v'], ['TYPE', 's'], ['TYPE', 'h'], ['TYPE', 'none'], ['TYPE']]),
  c('KEYS', [
    ['MSET', 'user:1', 'a', 'user:2', 'b', 'user:10', 'c', 'admin', 'd', 'u[x]', 'e', 'hello', 'f', 'hallo', 'g', 'hxllo', 'h', 'heeeello', 'i'],
    ['KEYS', '*'], ['KEYS', 'user:*'], ['KEYS', 'user:?'], ['KEYS', 'h?llo'], ['KEYS', 'h*llo'], ['KEYS', 'h[ae]llo'], ['KEYS', 'h[^e]llo'], ['KEYS', 'h[a-b]llo'],
    ['KEYS', 'u\\[x\\]'], ['KEYS', 'nomatch*'], ['KEYS'],
  ], { unordered: true }),
  c('SCAN', [
    ['MSET', 'k1', 'a', 'k2', 'b', 'k3', 'c', 'other', 'd'], ['HSET', 'kh', 'f', 'v'], ['SCAN', '0', 'COUNT', '1000'], ['SCAN', '0', 'MATCH', 'k*', 'COUNT', '1000'],
    ['SCAN', '0', 'COUNT', '1000', 'TYPE', 'hash'], ['SCAN', '0', 'COUNT', '1000', 'TYPE', 'string', 'MATCH', 'k?'], ['SCAN', 'x'], ['SCAN', '0', 'COUNT', '0'],
    ['SCAN', '0', 'COUNT', 'x'], ['SCAN', '0', 'MATCH'], ['SCAN', '0', 'BOGUS', '1'], ['SCAN'],
  ], { unordered: true }),
  c('SCAN cursors as Redis reads them', [
    ['SET', 'k', 'v'], ['SCAN', '18446744073709551616'], ['SCAN', '99999999999999999999999'], ['SCAN', '-18446744073709551616'], ['SCAN', ' 1'], ['SCAN', '1 '],
    ['SCAN', '0x1'], ['SCAN', '+'], ['SCAN', '-'], ['SCAN', '1.5'], ['SCAN', ''], ['SCAN', '00'], ['SCAN', '+0'], ['SCAN', '-0'], ['SCAN', '000000000000000000000000'],
    ['HSET', 'h', 'f', 'v'], ['HSCAN', 'h', '18446744073709551616'], ['HSCAN', 'h', ''], ['HSCAN', 'h', ' 0'], ['HSCAN', 'h', '+0'],
  ]),
  c('RENAME RENAMENX', [
    ['SET', 'a', '1'], ['RENAME', 'a', 'b'], ['GET', 'a'], ['GET', 'b'], ['RENAME', 'nokey', 'x'], ['RENAME', 'b', 'b'], ['SET', 'c', '3'], ['RENAMENX', 'b', 'c'],
    ['RENAMENX', 'b', 'd'], ['MGET', 'b', 'c', 'd'], ['RENAMENX', 'nokey', 'x'], ['HSET', 'h', 'f', 'v'], ['RENAME', 'h', 'h2'], ['HGET', 'h2', 'f'], ['RENAMENX', 'd', 'd'],
  ]),
  c('COPY', [
    ['SET', 'a', '1'], ['COPY', 'a', 'b'], ['COPY', 'a', 'b'], ['SET', 'a', '2'], ['COPY', 'a', 'b', 'REPLACE'], ['MGET', 'a', 'b'], ['COPY', 'nokey', 'c'], ['COPY', 'a', 'a'],
    ['COPY', 'a', 'b', 'BOGUS'], ['COPY', 'a', 'c', 'DB', '0'], ['HSET', 'h', 'f', 'v'], ['COPY', 'h', 'h2'], ['HGETALL', 'h2'],
  ]),
  c('RANDOMKEY', [['RANDOMKEY'], ['SET', 'only', '1'], ['RANDOMKEY']]),
  c('OBJECT', [['OBJECT', 'ENCODING', 'nokey'], ['OBJECT', 'BOGUS', 'k'], ['OBJECT']]),
  // --- hashes
  c('HSET HGET HMGET HGETALL', [
    ['HSET', 'h', 'a', '1', 'b', '2'], ['HSET', 'h', 'a', '3', 'c', '4'], ['HGET', 'h', 'a'], ['HGET', 'h', 'zz'], ['HGET', 'nokey', 'a'], ['HMGET', 'h', 'a', 'zz', 'c'],
    ['HMGET', 'nokey', 'a'], ['HGETALL', 'h'], ['HGETALL', 'nokey'], ['HSET', 'h', 'a'], ['HSET', 'h', 'a', '1', 'b'], ['HMSET', 'h', 'd', '5'], ['HGETALL', 'h'],
    ['SET', 's', 'v'], ['HSET', 's', 'f', 'v'], ['HGET', 's', 'f'], ['HGETALL', 's'], ['HSET', 'h', '', 'empty'], ['HGET', 'h', ''],
  ]),
  c('HDEL HEXISTS HLEN HKEYS HVALS HSTRLEN', [
    ['HSET', 'h', 'a', '1', 'b', '22', 'c', '333'], ['HDEL', 'h', 'a', 'zz', 'a'], ['HEXISTS', 'h', 'a'], ['HEXISTS', 'h', 'b'], ['HLEN', 'h'], ['HKEYS', 'h'], ['HVALS', 'h'],
    ['HSTRLEN', 'h', 'c'], ['HSTRLEN', 'h', 'zz'], ['HDEL', 'h', 'b', 'c'], ['EXISTS', 'h'], ['HLEN', 'h'], ['HKEYS', 'nokey'], ['HDEL', 'nokey', 'a'], ['HDEL', 'h'],
    ['SET', 's', 'v'], ['HLEN', 's'], ['HDEL', 's', 'a'],
  ]),
  c('HINCRBY HINCRBYFLOAT HSETNX', [
    ['HINCRBY', 'h', 'n', '5'], ['HINCRBY', 'h', 'n', '-7'], ['HSET', 'h', 's', 'abc'], ['HINCRBY', 'h', 's', '1'], ['HINCRBY', 'h', 'n', 'x'],
    ['HSET', 'h', 'm', MAX], ['HINCRBY', 'h', 'm', '1'], ['HINCRBYFLOAT', 'h', 'f', '1.5'], ['HINCRBYFLOAT', 'h', 'f', '0.25'], ['HINCRBYFLOAT', 'h', 's', '1'],
    ['HINCRBYFLOAT', 'h', 'f', 'x'], ['HSETNX', 'h', 'n', '9'], ['HSETNX', 'h', 'new', '9'], ['HGETALL', 'h'], ['SET', 'str', '1'], ['HINCRBY', 'str', 'f', '1'],
  ]),
  c('HRANDFIELD with one field', [
    ['HSET', 'h', 'only', 'v'], ['HRANDFIELD', 'h'], ['HRANDFIELD', 'h', '3'], ['HRANDFIELD', 'h', '-3'], ['HRANDFIELD', 'h', '2', 'WITHVALUES'],
    ['HRANDFIELD', 'h', '-2', 'WITHVALUES'], ['HRANDFIELD', 'h', '0'], ['HRANDFIELD', 'nokey'], ['HRANDFIELD', 'nokey', '5'], ['HRANDFIELD', 'h', '1', 'BOGUS'],
    ['HRANDFIELD', 'h', 'x'],
  ]),
  c('HRANDFIELD RESP3', [['HSET', 'h', 'only', 'v'], ['HRANDFIELD', 'h', '-2', 'WITHVALUES'], ['HRANDFIELD', 'h', '1', 'WITHVALUES']], { resp3: true }),
  c('HSCAN', [
    ['HSET', 'h', 'a', '1', 'b', '2', 'ab', '3'], ['HSCAN', 'h', '0'], ['HSCAN', 'h', '0', 'MATCH', 'a*'], ['HSCAN', 'nokey', '0'], ['HSCAN', 'h', 'x'],
    ['HSCAN', 'h', '0', 'COUNT', '0'],
  ]),
  // --- connection and server
  c('TIME SAVE BGSAVE LASTSAVE arity and options', [['TIME', 'x'], ['LASTSAVE', 'x'], ['SAVE', 'x'], ['BGSAVE', 'x'], ['BGSAVE', 'SCHEDULE', 'x']]),
  c('RESET', [['CLIENT', 'SETNAME', 'me'], ['RESET'], ['CLIENT', 'GETNAME'], ['RESET', 'x']]),
  c('stream commands on a key that holds no stream', [
    ['XLEN', 'nostream'], ['XRANGE', 'nostream', '-', '+'], ['XREVRANGE', 'nostream', '+', '-'], ['XRANGE', 'nostream', '-'],
    ['XRANGE', 'nostream', 'x', '+'], ['XRANGE', 'nostream', '-', '+', 'COUNT', 'x'], ['XREAD', 'COUNT', 'x', 'STREAMS', 'nostream', '0'],
    ['XREAD', 'STREAMS', 'nostream', '0'], ['XREAD', 'STREAMS', 'a', 'b', '0'], ['XREAD', 'BLOCK', '-1', 'STREAMS', 'nostream', '0'], ['XLEN'],
    ['SET', 'str', 'v'], ['XLEN', 'str'], ['XRANGE', 'str', '-', '+'],
  ]),
  c('PING ECHO SELECT', [['PING'], ['PING', 'hi'], ['PING', 'a', 'b'], ['ECHO', 'x'], ['ECHO'], ['SELECT', '0'], ['SELECT', 'x'], ['SELECT', '-1']]),
  c('AUTH without a password', [['AUTH', 'x'], ['AUTH', 'someone', 'x'], ['AUTH', 'a', 'b', 'c'], ['AUTH']]),
  c('HELLO errors', [['HELLO', '4'], ['HELLO', 'x'], ['HELLO', '1'], ['HELLO', '3', 'BOGUS'], ['HELLO', '2', 'SETNAME', 'a b'], ['HELLO', '2', 'AUTH', 'nobody', 'x']]),
  c('CLIENT', [
    ['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME', 'me'], ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME', ''], ['CLIENT', 'GETNAME'],
    ['CLIENT', 'BOGUS'], ['CLIENT', 'KILL', '1.2.3.4:5'], ['CLIENT', 'KILL', 'ID', '999999'], ['CLIENT', 'KILL', 'ID'], ['CLIENT'], ['CLIENT', 'GETNAME', 'x'],
  ]),
  c('DBSIZE FLUSHDB FLUSHALL', [['MSET', 'a', '1', 'b', '2'], ['DBSIZE'], ['FLUSHDB', 'BOGUS'], ['FLUSHDB'], ['DBSIZE'], ['SET', 'c', '3'], ['FLUSHALL', 'ASYNC'], ['DBSIZE'], ['FLUSHALL', 'SYNC']]),
  c('CONFIG', [
    ['CONFIG', 'GET', 'maxmemory-policy'], ['CONFIG', 'GET', 'nosuch*'], ['CONFIG', 'GET'], ['CONFIG', 'SET', 'nosuch', '1'], ['CONFIG', 'SET', 'timeout', 'abc'],
    ['CONFIG', 'SET', 'timeout', '0'], ['CONFIG', 'GET', 'timeout'], ['CONFIG', 'SET', 'timeout'], ['CONFIG', 'BOGUS'],
  ]),
  c('WAIT', [['SET', 'k', 'v'], ['WAIT', '0', '0'], ['WAIT', 'x', '0'], ['WAIT', '0']]),
  c('unknown commands and arity', [['NOSUCHCMD'], ['nosuch', 'a', 'b'], ['FooBar', 'x'], ['GET'], ['GET', 'a', 'b'], ['HGET', 'h'], ['MGET'], ['INCR'], ['RENAME', 'a']]),
  // --- transactions
  c('MULTI EXEC', [
    ['MULTI'], ['SET', 'a', '1'], ['INCR', 'a'], ['INCR', 'a'], ['HSET', 'a', 'f', 'v'], ['GET', 'a'], ['EXEC'], ['GET', 'a'],
    ['EXEC'], ['DISCARD'], ['MULTI'], ['MULTI'], ['DISCARD'], ['MULTI'], ['EXEC'],
  ]),
  c('EXEC refused before it runs', [
    ['MULTI'], ['SET', 'k', 'v'], ['EXEC', 'x'], ['EXEC'], ['EXISTS', 'k'], ['EXEC', 'x'], ['SUBSCRIBE'], ['SUBSCRIBE', 'c'], ['EXEC'], ['GET', 'k'],
  ]),
  c('MULTI with a queueing error', [['MULTI'], ['SET', 'a', '1'], ['GET'], ['NOSUCH'], ['EXEC'], ['EXISTS', 'a']]),
  c('WATCH', [['WATCH'], ['SET', 'w', '1'], ['WATCH', 'w'], ['SET', 'w', '2'], ['MULTI'], ['GET', 'w'], ['EXEC'], ['WATCH', 'w'], ['MULTI'], ['WATCH', 'w'], ['INCR', 'w'], ['EXEC'], ['UNWATCH']]),
  c('MULTI in RESP3', [['MULTI'], ['HSET', 'h', 'f', 'v'], ['HGETALL', 'h'], ['GET', 'nokey'], ['EXEC']], { resp3: true }),
  // --- expiry (TTLs compare approximately: the two servers run moments apart)
  c('SET EX PX EXAT PXAT KEEPTTL', [
    ['SET', 'k', 'v', 'EX', '100'], ['TTL', 'k'], ['PTTL', 'k'], ['SET', 'k', 'v2', 'KEEPTTL'], ['TTL', 'k'], ['SET', 'k', 'v3'], ['TTL', 'k'],
    ['SET', 'k', 'v', 'PX', '50000'], ['PTTL', 'k'], ['SET', 'k', 'v', 'EXAT', '4000000000'], ['EXPIRETIME', 'k'], ['PEXPIRETIME', 'k'],
    ['SET', 'k', 'v', 'PXAT', '4000000000123'], ['PEXPIRETIME', 'k'], ['EXPIRETIME', 'k'], ['SET', 'k', 'v', 'EXAT', '1'], ['GET', 'k'], ['EXISTS', 'k'],
    ['SET', 'k', 'v', 'EX', '0'], ['SET', 'k', 'v', 'EX', '-1'], ['SET', 'k', 'v', 'PX', '9223372036854775807'], ['SET', 'k', 'v', 'EX', '9223372036854775'],
    ['SET', 'k', 'v', 'EX', '10', 'PX', '10'], ['SET', 'k', 'v', 'EX', '10', 'KEEPTTL'], ['SET', 'k', 'v', 'EX', '0', 'BOGUS'], ['SET', 'k', 'v', 'EX', 'x'],
    ['SET', 'k', 'v', 'NX', 'EX', '100'], ['SET', 'k', 'v', 'XX', 'EX', '100', 'GET'], ['TTL', 'k'], ['SET', 'k', 'w', 'GET'], ['TTL', 'k'],
  ], { approx: true }),
  c('SETEX PSETEX GETEX', [
    ['SETEX', 'k', '100', 'v'], ['TTL', 'k'], ['GET', 'k'], ['PSETEX', 'k', '20000', 'w'], ['PTTL', 'k'], ['SETEX', 'k', '0', 'v'], ['PSETEX', 'k', '-1', 'v'],
    ['SETEX', 'k', 'x', 'v'], ['SETEX', 'k', '10'], ['GETEX', 'k'], ['GETEX', 'k', 'PERSIST'], ['TTL', 'k'], ['GETEX', 'k', 'EX', '300'], ['TTL', 'k'],
    ['GETEX', 'k', 'PX', '5000'], ['PTTL', 'k'], ['GETEX', 'k', 'EXAT', '4000000000'], ['EXPIRETIME', 'k'], ['GETEX', 'k', 'PXAT', '4100000000000'], ['PEXPIRETIME', 'k'],
    ['GETEX', 'k', 'EX', '0'], ['GETEX', 'k', 'EX', '-1'], ['GETEX', 'k', 'PERSIST', 'EX', '1'], ['GETEX', 'k', 'PX'], ['GETEX', 'k', 'BOGUS'],
    ['GETEX', 'nokey', 'EX', '10'], ['HSET', 'h', 'f', 'v'], ['GETEX', 'h', 'EX', '10'], ['TTL', 'h'], ['GETEX', 'k', 'EXAT', '1'], ['EXISTS', 'k'],
  ], { approx: true }),
  c('GETEX checks in Redis order: options, key, type, time', [
    ['GETEX', 'nokey', 'EX', '-1'], ['GETEX', 'nokey', 'EX', 'abc'], ['GETEX', 'nokey', 'PXAT', '9223372036854775807'], ['GETEX', 'nokey', 'BOGUS'], ['GETEX', 'nokey', 'EX'],
    ['HSET', 'h', 'f', 'v'], ['GETEX', 'h', 'EX', '-1'], ['GETEX', 'h', 'EX', 'abc'], ['SET', 'k', 'v'], ['GETEX', 'k', 'EX', 'abc'], ['GETEX', 'k', 'EX', '-1'],
    ['GETEX', 'k', 'EX', '0'], ['GETEX', 'k', 'PX', '9223372036854775807'], ['GETEX', 'k', 'PXAT', '1'], ['EXISTS', 'k'],
  ]),
  c('EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST', [
    ['SET', 'k', 'v'], ['TTL', 'k'], ['PTTL', 'k'], ['TTL', 'nokey'], ['PTTL', 'nokey'], ['EXPIRETIME', 'k'], ['EXPIRETIME', 'nokey'], ['PEXPIRETIME', 'k'],
    ['EXPIRE', 'k', '100'], ['TTL', 'k'], ['PEXPIRE', 'k', '200000'], ['PTTL', 'k'], ['EXPIREAT', 'k', '4000000000'], ['EXPIRETIME', 'k'], ['TTL', 'k'],
    ['PEXPIREAT', 'k', '4000000000500'], ['PEXPIRETIME', 'k'], ['EXPIRETIME', 'k'], ['PERSIST', 'k'], ['PERSIST', 'k'], ['PERSIST', 'nokey'], ['TTL', 'k'],
    ['EXPIRE', 'nokey', '10'], ['EXPIRE', 'k', 'abc'], ['EXPIRE', 'k', '10', 'BOGUS'], ['EXPIRE', 'k', '10', 'NX', 'XX'], ['EXPIRE', 'k', '10', 'GT', 'LT'],
    ['EXPIRE', 'nokey', 'abc', 'NX', 'GT'], ['EXPIRE', 'k', '9223372036854775807'], ['PEXPIRE', 'k', '9223372036854775807'], ['EXPIRE', 'k'],
    ['EXPIRE', 'k', '100', 'XX'], ['EXPIRE', 'k', '100', 'GT'], ['EXPIRE', 'k', '100', 'LT'], ['TTL', 'k'], ['EXPIRE', 'k', '200', 'NX'], ['TTL', 'k'],
    ['EXPIRE', 'k', '50', 'GT'], ['EXPIRE', 'k', '300', 'GT'], ['TTL', 'k'], ['EXPIRE', 'k', '400', 'LT'], ['EXPIRE', 'k', '150', 'LT'], ['TTL', 'k'],
    ['EXPIRE', 'k', '500', 'XX'], ['TTL', 'k'], ['EXPIRE', 'k', '0'], ['EXISTS', 'k'], ['SET', 'k', 'v'], ['EXPIRE', 'k', '-5'], ['EXISTS', 'k'],
    ['SET', 'k', 'v'], ['PEXPIREAT', 'k', '1'], ['GET', 'k'], ['SET', 'k', 'v'], ['EXPIREAT', 'k', '-9223372036854775808'], ['EXISTS', 'k'],
    ['HSET', 'h', 'f', 'v'], ['EXPIRE', 'h', '100'], ['TTL', 'h'],
  ], { approx: true }),
  c('writes that keep or clear a TTL', [
    ['SET', 's', 'v', 'EX', '100'], ['APPEND', 's', 'x'], ['TTL', 's'], ['SETRANGE', 's', '0', 'y'], ['TTL', 's'], ['GET', 's'],
    ['SET', 'n', '1', 'EX', '100'], ['INCR', 'n'], ['INCRBY', 'n', '5'], ['DECR', 'n'], ['INCRBYFLOAT', 'n', '1.5'], ['TTL', 'n'], ['GETSET', 'n', '0'], ['TTL', 'n'],
    ['HSET', 'h', 'a', '1', 'b', '2'], ['EXPIRE', 'h', '100'], ['HSET', 'h', 'c', '3'], ['HDEL', 'h', 'a'], ['HINCRBY', 'h', 'b', '1'], ['HINCRBYFLOAT', 'h', 'b', '1'],
    ['HSETNX', 'h', 'd', '4'], ['TTL', 'h'], ['RENAME', 'h', 'h2'], ['TTL', 'h2'], ['COPY', 'h2', 'h3'], ['TTL', 'h3'], ['SET', 'plain', '1'], ['COPY', 'plain', 'h3', 'REPLACE'],
    ['TTL', 'h3'], ['RENAME', 'plain', 'h2'], ['TTL', 'h2'], ['SET', 'm', 'v', 'EX', '100'], ['MSET', 'm', 'w'], ['TTL', 'm'], ['SET', 'g', 'v', 'EX', '100'],
    ['GETDEL', 'g'], ['TTL', 'g'], ['SET', 'g', 'v', 'EX', '100'], ['SET', 'g', 'w', 'NX'], ['TTL', 'g'], ['SET', 'g', 'w', 'XX'], ['TTL', 'g'],
  ], { approx: true }),
  c('expiry in MULTI', [
    ['MULTI'], ['SET', 'k', 'v'], ['EXPIRE', 'k', '100'], ['TTL', 'k'], ['INCR', 'c'], ['PEXPIRE', 'c', '50000'], ['INCR', 'c'], ['PTTL', 'c'], ['PERSIST', 'k'], ['TTL', 'k'], ['EXEC'],
    ['TTL', 'k'], ['PTTL', 'c'],
  ], { approx: true }),
  c('RESP3 replies', [
    ['HSET', 'h', 'a', '1', 'b', '2'], ['HGETALL', 'h'], ['HGETALL', 'nokey'], ['GET', 'nokey'], ['MGET', 'nokey', 'h'], ['CONFIG', 'GET', 'maxmemory-policy'],
    ['HRANDFIELD', 'nokey'], ['EXEC'], ['SET', 'f', '1'], ['INCRBYFLOAT', 'f', '1.5'],
  ], { resp3: true }),
]

let redis: RunningServer
let islab: Served

beforeAll(async () => {
  const binary = ensureTool('redis-server', 'redis-server')
  redis = await startServer(binary, (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir])
  islab = await startServed({ durability: 'memory' })
})
afterAll(async () => {
  await redis?.stop()
  await islab?.stop()
})

function normalize(p: Parsed, unordered: boolean): Parsed {
  if (Array.isArray(p)) {
    const items = p.map((x) => normalize(x, unordered))
    return unordered ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : items
  }
  return p
}

/** `actual` with each integer (from 10 up) that is within 0.2% of the one in `expected` replaced by it. */
function near(actual: Parsed, expected: Parsed): Parsed {
  if (typeof actual === 'number' && typeof expected === 'number' && Math.abs(expected) >= 10) return Math.abs(actual - expected) <= Math.max(1, Math.abs(expected) * 0.002) ? expected : actual
  if (Array.isArray(actual) && Array.isArray(expected)) return actual.map((a, i) => (i < expected.length ? near(a, expected[i]!) : a))
  return actual
}

async function runOn(port: number, k: Case, flush = true): Promise<Parsed[]> {
  const client = await RawClient.connect(port)
  try {
    if (flush) await client.send(resp('FLUSHALL'))
    if (k.resp3) await client.send(resp('HELLO', '3'))
    const out: Parsed[] = []
    for (const cmd of k.commands) {
      const text = await client.send(resp(...cmd))
      out.push(normalize(parseReply(Buffer.from(text, 'latin1'))[0], k.unordered ?? false))
    }
    return out
  } finally {
    client.close()
  }
}

/** With a password required: what an unauthenticated client is answered, in Redis's order of checks. */
const AUTH_CASES: Case[] = [
  c('before AUTH: unknown command, arity, then NOAUTH', [
    ['GET'], ['GET', 'k'], ['NOSUCH'], ['nosuch', 'a'], ['CLIENT'], ['CLIENT', 'LIST'], ['PING'], ['ECHO'], ['ECHO', 'x'], ['SET', 'k'], ['SET', 'k', 'v'],
    ['HELLO', '3'], ['HELLO'], ['HELLO', '4'], ['MULTI'], ['EXEC'], ['AUTH'], ['AUTH', 'a', 'b', 'c'], ['AUTH', 'wrong'], ['AUTH', 'default', 'wrong'],
    ['AUTH', 'nobody', 'secret'], ['HELLO', '2', 'AUTH', 'default', 'wrong'], ['GET', 'k'], ['AUTH', 'secret'], ['GET', 'k'], ['GET'],
  ]),
  c('MULTI before AUTH', [['AUTH', 'secret'], ['MULTI'], ['GET'], ['EXEC'], ['MULTI'], ['SET', 'k', 'v'], ['EXEC'], ['GET', 'k']]),
]

/**
 * Raw request bytes, then `ECHO END`: the text answered, and whether the connection was closed (a
 * protocol error closes it, so END is never answered; otherwise END marks the end of the replies).
 */
async function rawOn(port: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  const client = await RawClient.connect(port)
  try {
    client.write(Buffer.from(bytes + '*2\r\n$4\r\nECHO\r\n$3\r\nEND\r\n', 'latin1'))
    const got = await client.until((b) => b.toString('latin1').endsWith('$3\r\nEND\r\n'))
    return { text: got.toString('latin1'), closed: client.closed }
  } finally {
    client.close()
  }
}

/** Framing edge cases: lengths as Redis's string2ll reads them (no leading zero, no '+', no '-0'). */
const RAW_CASES: string[] = [
  '*1\r\n$4\r\nPING\r\n', '*01\r\n$4\r\nPING\r\n', '*1\r\n$04\r\nPING\r\n', '*00\r\n', '*1\r\n$00\r\n\r\n', '*+1\r\n$4\r\nPING\r\n',
  '*1\r\n$+4\r\nPING\r\n', '*-0\r\n', '*1\r\n$-0\r\n\r\n', '*0\r\n', '*-1\r\n', '*-5\r\n', '*1\r\n$-1\r\n', '*1x\r\n', '*1\r\n$4x\r\n',
  '*1\r\nPING\r\n', '*\r\n', '*1\n$4\r\nPING\r\n', '*1\r\n$4\nPING\r\n', '*1\r\n$19999999999999999999\r\n', '*99999999999999999999\r\n',
  '"unbalanced\r\n', '*1\r\n$0\r\n\r\n',
]

describe('the same answers as redis-server to malformed requests', () => {
  test.each(RAW_CASES.map((r) => [JSON.stringify(r), r] as const))('%s', async (_name, raw) => {
    expect(await rawOn(islab.port, raw)).toEqual(await rawOn(redis.port, raw))
  })
})

describe('the same replies as a redis-server with requirepass', () => {
  let redisAuth: RunningServer
  let islabAuth: Served
  beforeAll(async () => {
    redisAuth = await startServer('redis-server', (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', 'secret'])
    islabAuth = await startServed({ durability: 'memory' }, { requirepass: 'secret' })
  })
  afterAll(async () => {
    await redisAuth?.stop()
    await islabAuth?.stop()
  })
  test.each(AUTH_CASES.map((k) => [k.name, k] as const))('%s', async (_name, k) => {
    const expected = await runOn(redisAuth.port, k, false)
    const actual = await runOn(islabAuth.port, k, false)
    const rows = (r: Parsed[]) => k.commands.map((cmd, i) => ({ cmd: cmd.join(' '), reply: r[i] }))
    expect(rows(actual)).toEqual(rows(expected))
  })
})

describe('COMMAND DOCS', () => {
  type MapParsed = { map: [Parsed, Parsed][] }
  const field = (m: Parsed | undefined, key: string): Parsed | undefined => (m as MapParsed | undefined)?.map?.find(([k]) => k === key)?.[1]

  async function docs(port: number, name: string): Promise<Parsed> {
    const client = await RawClient.connect(port)
    try {
      await client.send(resp('HELLO', '3'))
      return field(parseReply(Buffer.from(await client.send(resp('COMMAND', 'DOCS', name)), 'latin1'))[0], name)!
    } finally {
      client.close()
    }
  }

  test('each command (and subcommand) has the arguments redis-server gives it: names, types, tokens, flags', async () => {
    const client = await RawClient.connect(islab.port)
    const names = parseReply(Buffer.from(await client.send(resp('COMMAND', 'LIST')), 'latin1'))[0] as string[]
    client.close()
    let compared = 0
    for (const name of names) {
      const [ours, theirs] = [await docs(islab.port, name), await docs(redis.port, name)]
      if (theirs === undefined) continue
      const pairs: [string, Parsed | undefined, Parsed | undefined][] = [[name, field(ours, 'arguments'), field(theirs, 'arguments')]]
      for (const [sub, subDoc] of (field(ours, 'subcommands') as MapParsed | undefined)?.map ?? []) {
        const theirSub = field(field(theirs, 'subcommands'), sub as string)
        if (theirSub !== undefined) pairs.push([sub as string, field(subDoc, 'arguments'), field(theirSub, 'arguments')])
      }
      for (const [n, a, b] of pairs) {
        expect({ n, arguments: a }).toEqual({ n, arguments: b })
        if (b !== undefined) compared++
      }
    }
    // Most commands take arguments: the comparison was not vacuous.
    expect(compared).toBeGreaterThan(80)
  })
})

describe('INFO keyspace', () => {
  test('keys and expires count as redis-server counts them (keys with a deadline, set, cleared, deleted)', async () => {
    const steps = [
      ['SET', 'a', '1'], ['SET', 'b', '2', 'EX', '100'], ['SET', 'c', '3', 'PX', '100000'], ['HSET', 'h', 'f', 'v'], ['EXPIRE', 'h', '100'],
      ['SETEX', 'd', '100', 'v'], ['PERSIST', 'c'], ['DEL', 'd'], ['SET', 'e', 'v', 'EX', '100'], ['SET', 'e', 'w'], ['RENAME', 'b', 'b2'], ['COPY', 'b2', 'b3'],
    ]
    const keyspace = async (port: number): Promise<string[]> => {
      const client = await RawClient.connect(port)
      try {
        await client.send(resp('FLUSHALL'))
        for (const cmd of steps) await client.send(resp(...cmd))
        const text = parseReply(Buffer.from(await client.send(resp('INFO', 'keyspace')), 'latin1'))[0] as string
        // avg_ttl is Redis's sampled estimate; keys and expires are exact.
        return [...text.matchAll(/(keys|expires)=\d+/g)].map((m) => m[0])
      } finally {
        client.close()
      }
    }
    const theirs = await keyspace(redis.port)
    expect(theirs).toContain('expires=3')
    expect(await keyspace(islab.port)).toEqual(theirs)
  })
})

/** Keyspace notifications a sequence of commands makes: (channel, message) pairs, in order. */
async function notificationsOn(port: number, commands: string[][]): Promise<[string, string][]> {
  const sub = await RawClient.connect(port)
  const client = await RawClient.connect(port)
  try {
    await client.send(resp('FLUSHALL'))
    await client.send(resp('CONFIG', 'SET', 'notify-keyspace-events', 'KEA'))
    await sub.send(resp('PSUBSCRIBE', '__key*__:*', 'sentinel'))
    await sub.send(resp('SUBSCRIBE', 'sentinel'))
    for (const cmd of commands) await client.send(resp(...cmd))
    await client.send(resp('PUBLISH', 'sentinel', 'end'))
    const got = await sub.until((b) => b.toString('latin1').includes('$8\r\nsentinel\r\n$3\r\nend\r\n'))
    const out: [string, string][] = []
    let at = 0
    while (at < got.length) {
      const [msg, next] = parseReply(got, at)
      at = next
      const m = msg as string[]
      if (m[0] === 'pmessage' && m[1] === '__key*__:*') out.push([m[2]!, m[3]!])
    }
    return out
  } finally {
    await client.send(resp('CONFIG', 'SET', 'notify-keyspace-events', ''))
    sub.close()
    client.close()
  }
}

const NOTIFY_CASES: Case[] = [
  c('SET KEEPTTL notifies set only (no expire)', [['SET', 'k', 'v', 'EX', '100'], ['SET', 'k', 'w', 'KEEPTTL'], ['SET', 'k', 'x', 'KEEPTTL', 'GET'], ['SET', 'n', 'v', 'KEEPTTL']]),
  c('SET with a deadline already past, outside and inside MULTI', [
    ['SET', 'k', 'v', 'PXAT', '1'], ['EXISTS', 'k'], ['MULTI'], ['SET', 'm', 'v', 'PXAT', '1'], ['GET', 'm'], ['EXISTS', 'm'], ['EXEC'], ['EXISTS', 'm'],
    ['SET', 'p', 'v'], ['SET', 'p', 'v', 'EXAT', '1', 'GET'], ['EXISTS', 'p'], ['SET', 'q', 'v', 'NX', 'PXAT', '1'], ['EXISTS', 'q'],
  ]),
]

describe('the same keyspace notifications as redis-server', () => {
  test.each(NOTIFY_CASES.map((k) => [k.name, k] as const))('%s', async (_name, k) => {
    const expected = await notificationsOn(redis.port, k.commands)
    expect(await notificationsOn(islab.port, k.commands)).toEqual(expected)
  })
  test.each(NOTIFY_CASES.map((k) => [k.name, k] as const))('%s: replies', async (_name, k) => {
    expect(await runOn(islab.port, k)).toEqual(await runOn(redis.port, k))
  })
})

describe('the Redis version reported', () => {
  /** INFO server's redis_version. */
  async function infoVersion(port: number): Promise<string> {
    const client = await RawClient.connect(port)
    try {
      const text = parseReply(Buffer.from(await client.send(resp('INFO', 'server')), 'latin1'))[0] as string
      return /redis_version:(\S+)/.exec(text)![1]!
    } finally {
      client.close()
    }
  }

  test('HELLO and INFO report the same version, that of the redis-server these tests compare against (major.minor)', async () => {
    const client = await RawClient.connect(islab.port)
    const hello = parseReply(Buffer.from(await client.send(resp('HELLO', '3')), 'latin1'))[0] as { map: [Parsed, Parsed][] }
    client.close()
    const helloVersion = hello.map.find(([k]) => k === 'version')![1] as string
    const ours = await infoVersion(islab.port)
    const reference = await infoVersion(redis.port)
    expect(helloVersion).toBe(ours)
    expect(ours.split('.').slice(0, 2)).toEqual(reference.split('.').slice(0, 2))
  })
})

describe('the same replies as redis-server', () => {
  test.each(CASES.map((k) => [k.name, k] as const))('%s', async (_name, k) => {
    const expected = await runOn(redis.port, k)
    const actual = await runOn(islab.port, k)
    // Each command with its two replies, so a failure names the command.
    const rows = (r: Parsed[]) => k.commands.map((cmd, i) => ({ cmd: cmd.join(' '), reply: r[i] }))
    expect(rows(k.approx ? actual.map((a, i) => near(a, expected[i]!)) : actual)).toEqual(rows(expected))
  })
})
