// Compiles asgi-matomo's exclusion rules once: exact paths, then methods, then start-anchored patterns.
import { compileStartAnchored } from '../config/validate.js'
import type { RouteDetails } from '../config/types.js'
import type { FilterReason } from './tracking-params.js'

export interface MappingRules {
  excludePath: readonly string[]
  excludePattern: readonly string[]
  allowedMethod: readonly string[]
  ignoredMethod: readonly string[]
  routeDetails: RouteDetails
}

export interface CompiledRules {
  /** The reason an entry is excluded, or undefined when it is tracked. */
  exclusion: (path: string, method: string | undefined) => FilterReason | undefined
}

export function compileRules (rules: MappingRules): CompiledRules {
  const paths = new Set(rules.excludePath)
  const allowed = rules.allowedMethod.length === 0 ? undefined : new Set(rules.allowedMethod.map((m) => m.toUpperCase()))
  const ignored = new Set(rules.ignoredMethod.map((m) => m.toUpperCase()))
  const patterns = rules.excludePattern.map(compileStartAnchored)
  const hasPaths = paths.size > 0
  const checksMethod = allowed !== undefined || ignored.size > 0

  return {
    exclusion (path, method) {
      // Size checks first: even an empty Set hashes the (fresh, per-line) path string.
      if (hasPaths && paths.has(path)) return 'excluded_path'
      if (checksMethod) {
        const upper = method === undefined ? '' : method.toUpperCase()
        // ignored wins over allowed; with an allow-list, an entry without a method is not allowed.
        if (ignored.has(upper) || (allowed !== undefined && !allowed.has(upper))) return 'excluded_method'
      }
      for (let i = 0; i < patterns.length; i++) {
        const re = patterns[i] as RegExp
        // Sticky regexes match at lastIndex, which test() moves on success: reset it every time.
        re.lastIndex = 0
        if (re.test(path)) return 'excluded_pattern'
      }
      return undefined
    }
  }
}
