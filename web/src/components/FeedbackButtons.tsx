import { useEffect, useState } from 'react'
import { api, errorMessage } from '../api'

type Rating = 'up' | 'down'

const buttonClass =
  'rounded-md px-1.5 py-1 text-xs hover:bg-slate-100 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none'

/** Thumbs up/down on an answer, with an optional comment; the caller's rating is shown again on reload. */
export function FeedbackButtons({ messageId }: { messageId: string }) {
  const [rating, setRating] = useState<Rating | null>(null)
  const [comment, setComment] = useState('')
  const [commenting, setCommenting] = useState(false)
  const [saved, setSaved] = useState(false)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let current = true
    api.getFeedback(messageId).then(
      (found) => {
        if (!current || !found) return
        setRating(found.rating)
        setComment(found.comment ?? '')
      },
      () => {},
    )
    return () => {
      current = false
    }
  }, [messageId])

  const give = async (next: Rating, text?: string) => {
    setError(null)
    try {
      const stored = await api.giveFeedback(messageId, { rating: next, comment: text || undefined })
      setRating(stored.rating)
      setSaved(true)
      return true
    } catch (err) {
      setError(errorMessage(err))
      return false
    }
  }

  const choose = async (next: Rating) => {
    if (await give(next, comment)) setCommenting(next === 'down' && !comment)
  }

  return (
    <span className="flex flex-wrap items-center gap-0.5" data-testid="feedback" data-rating={rating ?? ''}>
      <button
        type="button"
        aria-label="Good answer"
        title="Good answer"
        aria-pressed={rating === 'up'}
        data-testid="feedback-up"
        onClick={() => void choose('up')}
        className={`${buttonClass} ${rating === 'up' ? 'bg-emerald-50 text-emerald-700' : 'text-slate-500'}`}
      >
        👍
      </button>
      <button
        type="button"
        aria-label="Bad answer"
        title="Bad answer"
        aria-pressed={rating === 'down'}
        data-testid="feedback-down"
        onClick={() => void choose('down')}
        className={`${buttonClass} ${rating === 'down' ? 'bg-red-50 text-red-700' : 'text-slate-500'}`}
      >
        👎
      </button>
      {rating && !commenting && (
        <button type="button" onClick={() => setCommenting(true)} className={`${buttonClass} text-slate-600`}>
          {comment ? 'Edit comment' : 'Add a comment'}
        </button>
      )}
      {commenting && rating && (
        <form
          className="flex items-center gap-1"
          onSubmit={(e) => {
            e.preventDefault()
            void give(rating, comment).then((ok) => ok && setCommenting(false))
          }}
        >
          <input
            data-testid="feedback-comment"
            aria-label="What was right or wrong with this answer?"
            placeholder="What was wrong? (optional)"
            value={comment}
            maxLength={4000}
            onChange={(e) => setComment(e.target.value)}
            className="h-7 w-56 rounded-md border border-slate-300 px-2 text-xs focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
          />
          <button type="submit" data-testid="feedback-send" className={`${buttonClass} font-medium text-indigo-700`}>
            Send
          </button>
        </form>
      )}
      {error && <span role="alert" className="text-xs text-red-700">{error}</span>}
      <span className="sr-only" aria-live="polite">
        {saved ? 'Thank you: your feedback was saved.' : ''}
      </span>
    </span>
  )
}
