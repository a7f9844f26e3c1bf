import { describe, expect, it } from 'vitest'
import { nextProgress } from './hooks/useThreadChat'
import { estimateLabel, progressLabel, secondsLeft } from './progress'

describe('run progress in words', () => {
  it('names the stage, the passages and the fraction read', () => {
    expect(progressLabel({ stage: 'reading', progress: 0.4, since: 0 }, 3)).toBe('Reading 3 passages… 40%')
    expect(progressLabel({ stage: 'retrieving', since: 0 }, undefined)).toBe('Searching the documents…')
    expect(progressLabel({ stage: 'queued', position: 2, since: 0 }, undefined)).toBe(
      'Waiting for the model: position 2 in the queue…',
    )
  })

  it('estimates what is left only from the observed rate', () => {
    expect(secondsLeft({ stage: 'reading', progress: 0.25, since: 0 }, 4_000)).toBe(12)
    expect(secondsLeft({ stage: 'reading', progress: 0.01, since: 0 }, 4_000)).toBeNull()
    expect(secondsLeft({ stage: 'reading', since: 0 }, 4_000)).toBeNull()
    expect(estimateLabel(150)).toBe('about 3 min left')
  })

  it('restarts the clock on a new stage and keeps it within one', () => {
    const reading = nextProgress({ stage: 'retrieving', since: 1 }, { status: 'running', stage: 'reading', progress: 0.1 }, 50)
    expect(reading).toEqual({ stage: 'reading', progress: 0.1, position: undefined, since: 50 })
    expect(nextProgress(reading, { status: 'running', stage: 'reading', progress: 0.5 }, 90).since).toBe(50)
    expect(nextProgress(undefined, { status: 'queued', position: 3 }, 0)).toMatchObject({ stage: 'queued', position: 3 })
  })
})
