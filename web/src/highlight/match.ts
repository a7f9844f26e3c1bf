/**
 * Finds a cited passage in the text of a shown document (a PDF page's text runs, a page's text
 * nodes), tolerant of what parsing changes: whitespace and line breaks, hyphenation at a line's
 * end, punctuation and Markdown syntax, case, ligatures and accents.
 *
 * Both texts are folded to their letters and digits only; the folded passage is looked up whole
 * and, failing that, piece by piece (the longest runs it shares with the document), and the
 * pieces that lie together in the document are what gets highlighted.
 */

/** Characters [start, end) of segment `segment` (offsets in UTF-16 code units, as DOM text). */
export interface TextRange {
  segment: number
  start: number
  end: number
}

export interface PassageMatch {
  ranges: TextRange[]
  /** The share of the passage's letters and digits found (1: all of it, in one run). */
  coverage: number
}

/** Shortest run of folded characters (about two words) that counts as a shared piece. */
const MIN_PIECE = 12
/** Document text between two pieces of one match (a running header, a footnote mark...). */
const MAX_GAP = 80
/** A match must hold this share of the passage, or this many folded characters. */
const MIN_COVERAGE = 0.3
const ENOUGH_CHARS = 80

const WORD_CHAR = /[\p{L}\p{N}]/u

interface Folded {
  text: string
  /** For each folded character: its segment, its offset there and its original length. */
  segment: number[]
  offset: number[]
  width: number[]
  /** Folded offsets where a word begins. */
  wordStarts: number[]
}

function fold(segments: readonly string[]): Folded {
  const chars: string[] = []
  const out: Folded = { text: '', segment: [], offset: [], width: [], wordStarts: [] }
  let inWord = false
  segments.forEach((value, index) => {
    let at = 0
    for (const ch of value) {
      const folded = ch.normalize('NFKD').toLowerCase()
      let kept = false
      for (const f of folded) {
        if (!WORD_CHAR.test(f)) continue
        if (!inWord && !kept) out.wordStarts.push(chars.length)
        chars.push(f)
        out.segment.push(index)
        out.offset.push(at)
        out.width.push(ch.length)
        kept = true
      }
      // A combining accent or a soft hyphen does not end a word.
      if (kept) inWord = true
      else if (!/[\p{M}\u00ad]/u.test(ch)) inWord = false
      at += ch.length
    }
  })
  out.text = chars.join('')
  return out
}

/** The longest prefix of `needle` from `from` that occurs in `hay` (binary search: occurring is monotone). */
function longestPiece(hay: string, needle: string, from: number): { length: number; at: number } {
  if (needle.length - from < MIN_PIECE) return { length: 0, at: -1 }
  let at = hay.indexOf(needle.slice(from, from + MIN_PIECE))
  if (at < 0) return { length: 0, at: -1 }
  let lo = MIN_PIECE
  let hi = needle.length - from
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    const found = hay.indexOf(needle.slice(from, from + mid))
    if (found >= 0) {
      lo = mid
      at = found
    } else hi = mid - 1
  }
  return { length: lo, at: hay.indexOf(needle.slice(from, from + lo)) }
}

interface Piece {
  from: number
  to: number
  at: number
}

function conflicts(a: Piece, b: Piece): boolean {
  const length = (p: Piece) => p.to - p.from
  const overlapNeedle = a.from < b.to && b.from < a.to
  const overlapHay = a.at < b.at + length(b) && b.at < a.at + length(a)
  return overlapNeedle || overlapHay || a.from < b.from !== a.at < b.at
}

interface Cluster {
  start: number
  end: number
  matched: number
  pieces: Piece[]
}

/** Shortest run that may extend a match at its ends (a word the parser kept whole). */
const MIN_END = 3
/** How far past a match's ends its first and last words may lie. */
const END_SLACK = 24

/**
 * Pieces are at least MIN_PIECE long, so a passage's first or last few words may be left out
 * of a match when a word between differs ("its name and its flag" against "its name and flag"):
 * the end of the passage that does lie just beside the match is added to it.
 */
function extendEnds(cluster: Cluster, hay: string, needle: Folded): void {
  const first = cluster.pieces.reduce((a, b) => (b.from < a.from ? b : a))
  const last = cluster.pieces.reduce((a, b) => (b.to > a.to ? b : a))
  if (first.at === cluster.start && first.from > 0) {
    const window = hay.slice(Math.max(0, cluster.start - END_SLACK), cluster.start)
    const base = cluster.start - window.length
    for (const ws of needle.wordStarts) {
      if (ws >= first.from || first.from - ws < MIN_END) break
      const head = needle.text.slice(ws, first.from)
      const found = window.lastIndexOf(head)
      if (found >= 0) {
        cluster.start = base + found
        break
      }
    }
  }
  const lastEnd = last.at + last.to - last.from
  if (lastEnd === cluster.end && last.to < needle.text.length) {
    const window = hay.slice(cluster.end, cluster.end + END_SLACK)
    for (const ws of needle.wordStarts) {
      if (ws < last.to) continue
      const tail = needle.text.slice(ws)
      if (tail.length < MIN_END) break
      const found = window.indexOf(tail)
      if (found >= 0) {
        cluster.end += found + tail.length
        break
      }
    }
  }
}

/**
 * Folded range [from, to) of the document as ranges of its segments. Segments between two that
 * hold part of the range (the spaces between a PDF's words are runs of their own) are whole in it.
 */
function toRanges(hay: Folded, segments: readonly string[], from: number, to: number): TextRange[] {
  const ranges: TextRange[] = []
  for (let k = from; k < to; k++) {
    const segment = hay.segment[k]
    const start = hay.offset[k]
    const end = start + hay.width[k]
    const last = ranges[ranges.length - 1]
    if (last && last.segment === segment) {
      last.end = Math.max(last.end, end)
      continue
    }
    for (let between = (last?.segment ?? segment) + 1; between < segment; between++) {
      if (segments[between]) ranges.push({ segment: between, start: 0, end: segments[between].length })
    }
    ranges.push({ segment, start, end })
  }
  return ranges
}

/** Where `passage` lies in the document made of `segments` (nothing when it is not there). */
export function findPassage(segments: readonly string[], passage: string): PassageMatch {
  const hay = fold(segments)
  const needle = fold([passage])
  if (!needle.text || !hay.text) return { ranges: [], coverage: 0 }
  const exact = hay.text.indexOf(needle.text)
  if (exact >= 0) return { ranges: toRanges(hay, segments, exact, exact + needle.text.length), coverage: 1 }

  // The passage's longest shared runs, from left to right, each starting at a word.
  const candidates: Piece[] = []
  let next = 0
  for (const start of needle.wordStarts) {
    if (start < next) continue
    const { length, at } = longestPiece(hay.text, needle.text, start)
    if (length === 0) continue
    candidates.push({ from: start, to: start + length, at })
    next = start + length
  }
  // Longest first, each kept only if it agrees in order with those kept before it.
  candidates.sort((a, b) => b.to - b.from - (a.to - a.from))
  const kept: Piece[] = []
  for (const piece of candidates) if (!kept.some((k) => conflicts(piece, k))) kept.push(piece)
  kept.sort((a, b) => a.at - b.at)

  // Pieces close together in the document form one match; the best ones are highlighted.
  const clusters: Cluster[] = []
  for (const piece of kept) {
    const end = piece.at + piece.to - piece.from
    const last = clusters[clusters.length - 1]
    if (last && piece.at - last.end <= MAX_GAP) {
      last.end = end
      last.matched += piece.to - piece.from
      last.pieces.push(piece)
    } else clusters.push({ start: piece.at, end, matched: piece.to - piece.from, pieces: [piece] })
  }
  const best = Math.max(0, ...clusters.map((c) => c.matched))
  const shown = clusters.filter((c) => c.matched >= Math.max(2 * MIN_PIECE, best / 2))
  const matched = shown.reduce((sum, c) => sum + c.matched, 0)
  if (matched < Math.min(ENOUGH_CHARS, MIN_COVERAGE * needle.text.length)) return { ranges: [], coverage: 0 }
  for (const cluster of shown) extendEnds(cluster, hay.text, needle)
  return {
    ranges: shown.flatMap((c) => toRanges(hay, segments, c.start, c.end)),
    coverage: Math.min(1, matched / needle.text.length),
  }
}
