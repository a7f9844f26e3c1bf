import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { Markdown } from '../components/Markdown'
import type { Claim } from '../types'
import { checkableClaims } from './plugins'

const render = (content: string, sourceCount = 0, claims?: Claim[]) =>
  renderToStaticMarkup(<Markdown content={content} sourceCount={sourceCount} claims={claims} />)

describe('Markdown answers', () => {
  it('renders a GFM table', () => {
    const html = render('| Name | Skill |\n|---|---|\n| Ada | Python |\n')
    expect(html).toContain('<table>')
    expect(html).toContain('<th>Name</th>')
    expect(html).toContain('<td>Python</td>')
  })

  it('renders a fenced code block with highlighting', () => {
    const html = render('```python\ndef f():\n    return 1\n```')
    expect(html).toMatch(/<pre><code class="hljs language-python">/)
    expect(html).toContain('<span class="hljs-keyword">def</span>')
  })

  it('never emits a script, an event handler or a javascript: link', () => {
    const html = render(
      'Hi <script>window.pwned=1</script> <img src=x onerror="window.pwned=1"> [x](javascript:alert(1))\n\n<iframe src="https://evil"></iframe>',
    )
    expect(html).not.toMatch(/<(script|img|iframe)\b|\son\w+="|href="javascript:/i)
    expect(html).toContain('&lt;script&gt;') // shown as text, not dropped silently
  })

  it('turns [n] into citation buttons only for existing sources', () => {
    const html = render('Ada knows Python [1]. Bob knows Go [3].', 2)
    expect(html).toMatch(/<button[^>]*data-cite="1"[^>]*>1<\/button>/)
    expect(html).not.toContain('data-cite="3"')
    expect(html).toContain('[3]')
  })

  it('leaves [n] inside code alone', () => {
    const html = render('`a[1]`', 2)
    expect(html).not.toContain('data-cite')
  })

  it('marks unsupported claims and adds citations the checker found', () => {
    const content = 'Ada knows Python. The moon is cheese.'
    const claims: Claim[] = [
      { text: 'Ada knows Python.', start: 0, end: 17, sources: [2], supported: true, score: 0.8 },
      { text: 'The moon is cheese.', start: 18, end: 37, sources: [], supported: false, score: 0.1 },
    ]
    const html = render(content, 2, claims)
    expect(html).toMatch(/Ada knows Python\.<button[^>]*data-cite="2"/)
    expect(html).toMatch(/<span data-testid="unsupported-claim"[^>]*>The moon is cheese\./)
  })

  it('leaves headings and table headers unmarked: they label, they do not claim', () => {
    const content = '## Ships\n\n| Year | Ships |\n|---|---|\n| 1911 | 12 |\n\nThe keeper logs ships [1].'
    const claims: Claim[] = [
      { text: 'Ships', start: 3, end: 8, sources: [1], supported: true, score: 0.7 },
      { text: '| Year | Ships |', start: 10, end: 26, sources: [], supported: false, score: 0.4 },
      { text: '| 1911 | 12 |', start: 37, end: 50, sources: [], supported: false, score: 0.4 },
    ]
    const html = render(content, 1, claims)
    expect(html).toContain('<h2>Ships</h2>')
    expect(html).toMatch(/<th>Year<\/th>/)
    expect(html).toMatch(/<td><span data-testid="unsupported-claim"[^>]*>1911/)
    expect(html).toMatch(/The keeper logs ships <button[^>]*data-cite="1"/)
  })

  it('counts as claims neither headings, table header rows nor lines of code', () => {
    const content = '## Ships\n\n| Year | Ships |\n|---|---|\n| 1911 | 12 |\n\n```py\nx = 1\n```\n\nTitle\n---\nThe keeper logs ships [1].'
    const claim = (text: string, supported = false): Claim => {
      const start = content.indexOf(text)
      return { text, start, end: start + text.length, sources: [], supported, score: 0.4 }
    }
    const kept = checkableClaims(content, [
      claim('Ships'), claim('| Year | Ships |'), claim('| 1911 | 12 |'), claim('x = 1'), claim('Title'),
      claim('The keeper logs ships [1].', true),
    ])
    expect(kept.map((c) => c.text)).toEqual(['| 1911 | 12 |', 'The keeper logs ships [1].'])
    expect(checkableClaims(content, null)).toEqual([])
  })
})
