import { describe, expect, it } from 'vitest'
import { findPassage, type TextRange } from './match'

/** The highlighted text of each range, as a reader would see it. */
function shown(segments: string[], ranges: TextRange[]): string[] {
  return ranges.map((r) => segments[r.segment].slice(r.start, r.end))
}

describe('findPassage', () => {
  it('finds a passage across text runs whatever their whitespace and line breaks', () => {
    const runs = ['Ships logged', ' ', 'The keeper of Port', 'Ellery logs every ship', 'in a green ledger.', ' Next.']
    const match = findPassage(runs, 'The keeper of Port Ellery\nlogs every ship in a green   ledger.')
    expect(match.coverage).toBe(1)
    expect(match.ranges.map((r) => r.segment)).toEqual([2, 3, 4])
    expect(shown(runs, match.ranges)).toEqual(['The keeper of Port', 'Ellery logs every ship', 'in a green ledger'])
  })

  it('marks the space runs between marked words (a PDF text layer has a run per word)', () => {
    const runs = ['Intro', ' ', 'The', ' ', 'keeper', ' ', 'logs', ' ', 'ships.', ' ', 'Outro']
    const match = findPassage(runs, 'The keeper logs ships')
    expect(match.ranges.map((r) => r.segment)).toEqual([2, 3, 4, 5, 6, 7, 8])
    expect(shown(runs, match.ranges).join('')).toBe('The keeper logs ships')
  })

  it('tolerates a word hyphenated at the end of a line', () => {
    const runs = ['The ledger is kept in the light-', 'house office since 1911.']
    const match = findPassage(runs, 'The ledger is kept in the lighthouse office since 1911.')
    expect(match.coverage).toBe(1)
    expect(shown(runs, match.ranges)).toEqual(['The ledger is kept in the light', 'house office since 1911'])
  })

  it('ignores case, punctuation, ligatures and accents', () => {
    const runs = ['“Le café” — the ofﬁce’s FIRST entry: 4,212 ships!']
    const match = findPassage(runs, 'le cafe the office s first entry 4212 ships')
    expect(match.coverage).toBe(1)
    expect(shown(runs, match.ranges)).toEqual(['Le café” — the ofﬁce’s FIRST entry: 4,212 ships'])
  })

  it('finds a Markdown passage in its rendered text, link targets and all', () => {
    const rendered = ['Install', 'Run the installer from the ', 'downloads page', ' and restart the service once it ends.']
    const passage = '## Install\n\nRun the installer from the [downloads page](https://example.org/dl) and restart the service once it ends.'
    const match = findPassage(rendered, passage)
    expect(match.coverage).toBeGreaterThan(0.8)
    expect(shown(rendered, match.ranges).join('|')).toBe(
      'Install|Run the installer from the|downloads page|and restart the service once it ends',
    )
  })

  it('highlights the part of a passage that is on this page when the rest is elsewhere', () => {
    const page = ['Chapter two', 'The harbour master signs the ledger every evening at eight o clock.']
    const passage = 'The harbour master signs the ledger every evening at eight o clock. On Sundays the deputy keeper signs it instead and notes the weather.'
    const match = findPassage(page, passage)
    expect(match.coverage).toBeGreaterThan(0.3)
    expect(match.coverage).toBeLessThan(1)
    expect(shown(page, match.ranges)).toEqual(['The harbour master signs the ledger every evening at eight o clock'])
  })

  it('finds nothing on a page that does not hold the passage', () => {
    const page = ['The keeper logs every ship in a green ledger.', 'The ledger has recorded 4,212 ships since 1911.']
    expect(findPassage(page, 'Invoices are paid within thirty days of receipt by bank transfer.')).toEqual({
      ranges: [],
      coverage: 0,
    })
    expect(findPassage(page, '').ranges).toEqual([])
    expect(findPassage([], 'anything at all').ranges).toEqual([])
  })

  it('is not pulled away by a short phrase that also occurs elsewhere on the page', () => {
    const page = [
      'In the green ledger the keeper notes the weather.',
      'Unrelated text about boats and nets and the evening tide.',
      'Every ship that passes is noted in the green ledger by the keeper with its name and flag.',
    ]
    const passage = 'Every ship that passes is noted in the green ledger by the keeper, with its name and its flag.'
    const match = findPassage(page, passage)
    expect(match.ranges.map((r) => r.segment)).toEqual([2])
    expect(shown(page, match.ranges)[0]).toMatch(/^Every ship that passes .* and flag$/)
  })

  it('keeps the first words of a passage that differ a little from the page', () => {
    const page = ['Its keeper, a patient man, logs every passing ship in the green ledger each night.']
    const match = findPassage(page, 'The keeper (a patient man) logs each passing ship in the green ledger each night.')
    expect(shown(page, match.ranges)).toEqual(['keeper, a patient man, logs every passing ship in the green ledger each night'])
  })

  it('maps offsets in UTF-16 code units (text with characters outside the BMP)', () => {
    const runs = ['𝐀 note: the keeper logs every ship 🚢 in a ledger']
    const match = findPassage(runs, 'the keeper logs every ship in a ledger')
    expect(shown(runs, match.ranges)).toEqual(['the keeper logs every ship 🚢 in a ledger'])
  })
})
