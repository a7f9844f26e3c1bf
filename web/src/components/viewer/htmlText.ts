/**
 * An uploaded HTML page as blocks of text, for reading it inside the app: parsed inertly
 * (DOMParser runs no scripts and loads nothing), and only its text kept, never its markup.
 */

export type BlockKind = 'heading' | 'paragraph' | 'item' | 'code'

export interface Block {
  kind: BlockKind
  text: string
}

const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'SVG', 'MATH', 'IFRAME', 'OBJECT', 'CANVAS', 'SELECT'])
const BLOCK = new Set([
  'ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'DD', 'DETAILS', 'DIV', 'DL', 'DT', 'FIELDSET', 'FIGCAPTION',
  'FIGURE', 'FOOTER', 'FORM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR', 'LI', 'MAIN', 'NAV', 'OL',
  'P', 'PRE', 'SECTION', 'SUMMARY', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TD', 'TH', 'UL', 'CAPTION',
])

function kindOf(tag: string, inherited: BlockKind): BlockKind {
  if (/^H[1-6]$/.test(tag)) return 'heading'
  if (tag === 'LI') return 'item'
  if (tag === 'PRE') return 'code'
  return inherited
}

export function htmlBlocks(html: string): Block[] {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  const blocks: Block[] = []
  let text = ''
  let kind: BlockKind = 'paragraph'
  const flush = () => {
    const value = kind === 'code' ? text.replace(/^\n+|\s+$/g, '') : text.replace(/\s+/g, ' ').trim()
    if (value) blocks.push({ kind, text: value })
    text = ''
  }
  const walk = (node: Node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        text += (child as Text).data
        continue
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue
      const tag = (child as Element).tagName.toUpperCase()
      if (SKIP.has(tag)) continue
      if (tag === 'BR') {
        text += '\n'
        continue
      }
      if (!BLOCK.has(tag)) {
        walk(child)
        continue
      }
      flush()
      const outer = kind
      kind = kindOf(tag, outer === 'code' ? 'code' : 'paragraph')
      walk(child)
      flush()
      kind = outer
    }
  }
  walk(doc.body)
  flush()
  return blocks
}
