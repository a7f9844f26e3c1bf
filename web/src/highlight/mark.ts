/** Wraps found ranges of DOM text nodes in `<mark>` elements, and undoes it. */
import type { TextRange } from './match'

export const HIGHLIGHT_CLASS = 'passage-highlight'

/** Marks `ranges` of `nodes` (segment i is nodes[i]); answers the marks in document order. */
export function markRanges(nodes: readonly Text[], ranges: readonly TextRange[]): HTMLElement[] {
  const marks: HTMLElement[] = []
  // From the last range back, so that splitting a node keeps the earlier offsets valid.
  const ordered = [...ranges].sort((a, b) => b.segment - a.segment || b.start - a.start)
  for (const { segment, start, end } of ordered) {
    const node = nodes[segment]
    if (!node || end <= start || end > node.length) continue
    const range = node.ownerDocument.createRange()
    range.setStart(node, start)
    range.setEnd(node, end)
    const mark = node.ownerDocument.createElement('mark')
    mark.className = HIGHLIGHT_CLASS
    mark.dataset.testid = 'passage-highlight'
    range.surroundContents(mark)
    marks.push(mark)
  }
  return marks.reverse()
}

/** The text nodes under `root`, in document order. */
export function textNodes(root: Node): Text[] {
  const walker = (root.ownerDocument ?? document).createTreeWalker(root, NodeFilter.SHOW_TEXT)
  const nodes: Text[] = []
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node as Text)
  return nodes
}

/** Takes the marks out of `root` again, joining the text they had split. */
export function clearMarks(root: Element): void {
  for (const mark of root.querySelectorAll(`mark.${HIGHLIGHT_CLASS}`)) {
    const parent = mark.parentNode
    if (!parent) continue
    mark.replaceWith(...mark.childNodes)
    parent.normalize()
  }
}
