import { describe, expect, it } from 'vitest'
import { fileUrl, viewable } from './components/PassagePanel'
import { answerWithSources } from './copy'

describe('copying and opening sources', () => {
  it('copies an answer with its numbered sources', () => {
    const text = answerWithSources('Ada knows Python [1].', [
      { source: 'cvs/ada.pdf', title: 'Ada Lovelace', page: 2 },
      { source: 'notes.md' },
    ])
    expect(text).toBe('Ada knows Python [1].\n\nSources:\n[1] Ada Lovelace (cvs/ada.pdf), p. 2\n[2] notes.md\n')
  })

  it('opens a PDF at the cited page, other files as they are', () => {
    expect(fileUrl('blob:x/1', 'application/pdf', 3)).toBe('blob:x/1#page=3')
    expect(fileUrl('blob:x/1', 'text/html', 3)).toBe('blob:x/1')
    expect(fileUrl('blob:x/1', 'application/pdf', null)).toBe('blob:x/1')
  })

  it('never opens an uploaded page as a page of this app: HTML shows as text, DOCX downloads', async () => {
    const pdf = viewable(new Blob(['%PDF-1.4'], { type: 'application/pdf' }))
    expect(pdf.open).toBe(true)
    expect(pdf.blob.type).toBe('application/pdf')
    const html = viewable(new Blob(['<script>alert(1)</script>'], { type: 'text/html' }))
    expect(html.open).toBe(true)
    expect(html.blob.type).toBe('text/plain;charset=utf-8')
    expect(await html.blob.text()).toBe('<script>alert(1)</script>')
    const docx = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
    expect(viewable(new Blob(['PK'], { type: docx })).open).toBe(false)
  })
})
