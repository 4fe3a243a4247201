// Values typed on the command line: tagged JSON (as 'islab dump' prints them), or a plain string.
import fs from 'node:fs'
import { fromTaggedJson } from '../events/taggedJson.js'
import { UsageError } from './args.js'

export function parseValueArgument(text: string, asString: boolean): unknown {
  const raw = text === '-' ? fs.readFileSync(0, 'utf8').replace(/\n$/, '') : text
  if (asString) return raw
  try {
    return fromTaggedJson(JSON.parse(raw) as never)
  } catch {
    throw new UsageError(
      `the value is not JSON: ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw)}. ` +
        `Values are JSON (42, true, {"a":1}, "text" with its quotes); to store text as it is, add --string`,
    )
  }
}
