// The package version, read once from package.json (src/ and dist/ are both one level below the root).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export const VERSION: string = (require('../package.json') as { version: string }).version

/** The User-Agent of the tool's own HTTP requests to Matomo. */
export const USER_AGENT = `matomo-forward/${VERSION}`
