import { useEffect, useState } from 'react'
import type { RunProgress } from '../hooks/useThreadChat'
import { estimateLabel, progressLabel, secondsLeft } from '../progress'

/** The stage of a run the user is waiting for, with a bar when the fraction is known. */
export function RunProgressView({ progress, passages }: { progress: RunProgress; passages?: number }) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])
  const label = progressLabel(progress, passages)
  const estimate = estimateLabel(secondsLeft(progress, now))
  return (
    <div data-testid="run-progress" data-stage={progress.stage} className="space-y-1.5 text-sm text-slate-600">
      <p role="status" className="flex items-center gap-2">
        <span className="flex gap-1" aria-hidden="true">
          {[0, 150, 300].map((delay) => (
            <span key={delay} className="size-1.5 animate-bounce rounded-full bg-slate-400" style={{ animationDelay: `${delay}ms` }} />
          ))}
        </span>
        <span>{label}</span>
        {estimate && <span className="text-xs text-slate-500">· {estimate}</span>}
      </p>
      {progress.progress != null && (
        <div
          role="progressbar"
          aria-label={label}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(progress.progress * 100)}
          className="h-1.5 w-48 max-w-full overflow-hidden rounded-full bg-slate-200"
        >
          <div className="h-full rounded-full bg-indigo-500 transition-[width]" style={{ width: `${progress.progress * 100}%` }} />
        </div>
      )}
    </div>
  )
}
