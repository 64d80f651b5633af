// JSON text exactly as Python's json.dumps writes it (", " and ": " separators, ensure_ascii), as asgi-matomo sends cvar.

export function pythonJsonDumps (value: unknown): string {
  return JSON.stringify(value, null, 1)
    // JSON.stringify with indent 1 puts each item on its own line; fold them back with Python's separators.
    ?.replace(/\n */g, (m, offset: number, whole: string) => {
      const next = whole[offset + m.length]
      const prev = whole[offset - 1]
      if (next === ']' || next === '}') return ''
      if (prev === '[' || prev === '{') return ''
      return ' '
    })
    .replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) ?? 'null'
}
