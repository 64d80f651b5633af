// The registry of built-in formats, by --format name (`fields` is built from the config's fields map instead).
import type { FieldMap } from '../config/types.js'
import { caddy } from './caddy.js'
import { createFieldsFormat } from './fields.js'
import type { LineFormat } from './format.js'
import { nginxJson } from './nginx-json.js'
import { pinoHttp } from './pino-http.js'
import { traefik } from './traefik.js'

/** The formats --format auto chooses from, in the order their names are listed in messages. */
export const FORMATS: ReadonlyMap<string, LineFormat> = new Map<string, LineFormat>([
  [pinoHttp.name, pinoHttp],
  [nginxJson.name, nginxJson],
  [caddy.name, caddy],
  [traefik.name, traefik]
])

/**
 * The format a run uses for every source, or undefined when each source is sniffed (--format auto without a
 * fields map). A fields map with --format auto means the fields format: the map describes the layout.
 */
export function chooseFormat (name: string, fields: FieldMap | undefined): LineFormat | undefined {
  if (name === 'fields' || (name === 'auto' && fields !== undefined)) {
    if (fields === undefined) return undefined
    return createFieldsFormat(fields)
  }
  return name === 'auto' ? undefined : FORMATS.get(name)
}

export type { LineFormat, ParseContext } from './format.js'
