/** Copy an answer with its numbered sources, as plain text a reader can paste anywhere. */
import type { Source } from './types'

export function sourceLabel(source: Source): string {
  const name = source.title && source.title !== source.source ? `${source.title} (${source.source})` : source.source
  return source.page != null ? `${name}, p. ${source.page}` : name
}

export function answerWithSources(content: string, sources: Source[] | undefined): string {
  if (!sources?.length) return content
  const lines = sources.map((s, i) => `[${i + 1}] ${sourceLabel(s)}`)
  return `${content.trimEnd()}\n\nSources:\n${lines.join('\n')}\n`
}

export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text)
      return
    } catch {
      // permission refused (e.g. not a secure context): fall back below
    }
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.appendChild(area)
  area.select()
  document.execCommand('copy')
  area.remove()
}
