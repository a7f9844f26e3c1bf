/** What became of the cited passage in the viewer: highlighted, partly, or not found. */

export type HighlightState = 'pending' | 'found' | 'partial' | 'missing'

const NOTES: Record<Exclude<HighlightState, 'pending'>, string> = {
  found: 'The cited passage is highlighted.',
  partial: 'The cited passage is highlighted where its text matches the document’s.',
  missing: 'The passage’s text was not found here; it may be in a picture or laid out differently.',
}

interface Props {
  state: HighlightState
  /** `other-page`: the reader has moved away from the cited page. */
  where?: 'page' | 'other-page'
}

export function HighlightNote({ state, where = 'page' }: Props) {
  const note = where === 'other-page' || state === 'pending' ? '' : NOTES[state]
  return (
    <p
      role="status"
      data-testid="highlight-status"
      data-state={where === 'other-page' ? 'away' : state}
      className={`px-3 text-xs text-slate-600 ${note ? 'py-1.5' : ''}`}
    >
      {note}
    </p>
  )
}
