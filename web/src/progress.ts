/** Words for where a run stands: "Searching…", "Reading 3 passages… 40%", an honest estimate. */
import type { RunProgress } from './hooks/useThreadChat'

export function progressLabel(p: RunProgress, passages: number | undefined): string {
  switch (p.stage) {
    case 'queued':
      return p.position != null && p.position > 0
        ? `Waiting for the model: position ${p.position} in the queue…`
        : 'Waiting for the model…'
    case 'condensing':
      return 'Understanding the follow-up…'
    case 'retrieving':
      return 'Searching the documents…'
    case 'reading': {
      const what = passages ? `Reading ${passages} ${passages === 1 ? 'passage' : 'passages'}…` : 'Reading the question…'
      return p.progress != null ? `${what} ${Math.round(p.progress * 100)}%` : what
    }
    case 'generating':
      return 'Writing…'
  }
}

/** Seconds left in this stage, extrapolated from the rate so far; null until that rate means something. */
export function secondsLeft(p: RunProgress, now = Date.now()): number | null {
  if (p.progress == null || p.progress < 0.05 || p.progress >= 1) return null
  const elapsed = (now - p.since) / 1000
  if (elapsed < 1) return null
  return Math.max(1, Math.round((elapsed * (1 - p.progress)) / p.progress))
}

export function estimateLabel(seconds: number | null): string {
  if (seconds == null) return ''
  if (seconds < 60) return `about ${seconds} s left`
  return `about ${Math.round(seconds / 60)} min left`
}
