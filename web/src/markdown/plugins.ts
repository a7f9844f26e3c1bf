/**
 * Unified plugins for answers: raw HTML shown as text (never parsed into elements), and `[n]`
 * citation markers and claim spans woven into the rendered tree by their source offsets.
 */
import type { Element, ElementContent, Root as HastRoot, Text } from 'hast'
import type { Root as MdastRoot } from 'mdast'
import { visit } from 'unist-util-visit'
import { visitParents } from 'unist-util-visit-parents'
import type { Claim } from '../types'

/** Raw HTML in Markdown becomes literal text: nothing a model or a document wrote is executed. */
export function remarkHtmlAsText() {
  return (tree: MdastRoot) => {
    visit(tree, 'html', (node) => {
      ;(node as unknown as { type: string }).type = 'text'
    })
  }
}

const CITATION = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g
const SKIP_INSIDE = new Set(['pre', 'code', 'a'])
/** Headings and table headers label what follows: not claims, so never marked or given sources. */
const NOT_CLAIMS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'th'])

export interface AnswerOptions {
  /** The Markdown source the tree was parsed from (claim offsets point into it). */
  content: string
  claims?: Claim[] | null
  /** How many sources the answer has: `[n]` with 1 <= n <= sourceCount become citations. */
  sourceCount: number
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/
const ATX_HEADING = /^ {0,3}#{1,6}(\s|$)/
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)\s*$/
const TABLE_DELIMITER = /^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/

/**
 * The claims a reader can check. The checker cuts every line into sentences, so headings, table
 * header rows and lines of code come back as "claims" too: they label or show, they do not claim,
 * and are neither marked nor counted.
 */
export function checkableClaims(content: string, claims: Claim[] | null | undefined): Claim[] {
  if (!claims?.length) return []
  const labels: [number, number][] = []
  const lines = content.split('\n')
  let offset = 0
  let fenced = false
  lines.forEach((line, i) => {
    const next = lines[i + 1] ?? ''
    const fence = FENCE.test(line)
    const header = line.includes('|') && next.includes('|') && next.includes('-') && TABLE_DELIMITER.test(next)
    const setext = line.trim() !== '' && !line.includes('|') && SETEXT_UNDERLINE.test(next)
    if (fence || fenced || ATX_HEADING.test(line) || header || setext) labels.push([offset, offset + line.length])
    if (fence) fenced = !fenced
    offset += line.length + 1
  })
  return claims.filter((c) => !labels.some(([start, end]) => start <= c.start && c.end <= end))
}

function cite(n: number): Element {
  return { type: 'element', tagName: 'sup', properties: { dataCite: String(n) }, children: [{ type: 'text', value: String(n) }] }
}

/** Numbers cited as `[n]` or `[n, m]` in a piece of text. */
export function citedNumbers(text: string): Set<number> {
  const found = new Set<number>()
  for (const match of text.matchAll(CITATION)) for (const n of match[1].split(',')) found.add(Number(n.trim()))
  return found
}

/** Text with its `[n]` markers turned into citation elements (markers naming no source stay text). */
function withCitations(value: string, sourceCount: number): ElementContent[] {
  const out: ElementContent[] = []
  let last = 0
  for (const match of value.matchAll(CITATION)) {
    const numbers = match[1].split(',').map((n) => Number(n.trim()))
    const valid = numbers.filter((n) => n >= 1 && n <= sourceCount)
    if (valid.length === 0) continue
    if (match.index > last) out.push({ type: 'text', value: value.slice(last, match.index) })
    out.push(...valid.map(cite))
    last = match.index + match[0].length
  }
  if (last < value.length) out.push({ type: 'text', value: value.slice(last) })
  return out
}

/** Splits text nodes at claim boundaries: unsupported claims get a marked span, citations open passages. */
export function rehypeAnswer(options: AnswerOptions) {
  const { content, sourceCount } = options
  const claims = options.claims ?? []
  return (tree: HastRoot) => {
    const edits: { parent: HastRoot | Element; node: Text; replacement: ElementContent[] }[] = []
    visitParents(tree, 'text', (node: Text, ancestors) => {
      if (ancestors.some((a) => a.type === 'element' && SKIP_INSIDE.has((a as Element).tagName))) return
      const parent = ancestors[ancestors.length - 1] as HastRoot | Element
      const label = ancestors.some((a) => a.type === 'element' && NOT_CLAIMS.has((a as Element).tagName))
      edits.push({ parent, node, replacement: label ? withCitations(node.value, sourceCount) : weave(node) })
    })
    for (const { parent, node, replacement } of edits) {
      const index = parent.children.indexOf(node)
      if (index >= 0) parent.children.splice(index, 1, ...replacement)
    }
  }

  function weave(node: Text): ElementContent[] {
    const start = node.position?.start.offset
    const end = node.position?.end.offset
    const exact = start != null && end != null && content.slice(start, end) === node.value
    if (!exact || claims.length === 0) {
      const claim = start != null ? claims.findIndex((c) => c.start <= start && start < c.end) : -1
      return wrap(withCitations(node.value, sourceCount), claim)
    }
    const cuts = new Set([0, node.value.length])
    for (const c of claims) {
      if (c.start > start && c.start < end) cuts.add(c.start - start)
      if (c.end > start && c.end < end) cuts.add(c.end - start)
    }
    const points = [...cuts].sort((a, b) => a - b)
    const out: ElementContent[] = []
    for (let i = 0; i < points.length - 1; i++) {
      const from = start + points[i]
      const to = start + points[i + 1]
      const index = claims.findIndex((c) => c.start <= from && to <= c.end)
      out.push(...wrap(withCitations(node.value.slice(points[i], points[i + 1]), sourceCount), index))
      if (index >= 0 && to === claims[index].end) out.push(...missingCitations(claims[index]))
    }
    return out
  }

  function wrap(children: ElementContent[], index: number): ElementContent[] {
    if (index < 0 || claims[index].supported || children.length === 0) return children
    return [{ type: 'element', tagName: 'span', properties: { dataClaim: String(index), dataSupported: 'false' }, children }]
  }

  /** The claim's sources that its text does not already cite (the checker may have found better ones). */
  function missingCitations(claim: Claim): Element[] {
    if (!claim.supported) return []
    const shown = citedNumbers(content.slice(claim.start, Math.min(content.length, claim.end + 12)))
    return claim.sources.filter((n) => n >= 1 && n <= sourceCount && !shown.has(n)).map(cite)
  }
}
