// The registry of built-in formats, by --format name.
import type { LineFormat } from './format.js'
import { nginxJson } from './nginx-json.js'
import { pinoHttp } from './pino-http.js'

export const FORMATS: ReadonlyMap<string, LineFormat> = new Map<string, LineFormat>([
  [pinoHttp.name, pinoHttp],
  [nginxJson.name, nginxJson]
])

export type { LineFormat, ParseContext } from './format.js'
