import type { Collection, ModelInfo } from '../types'

const selectClass =
  'h-8 max-w-[12rem] truncate rounded-md border border-slate-300 bg-white px-1.5 text-xs text-slate-700 focus-visible:border-indigo-400 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none'

export function ModelPicker({ models, value, onChange }: { models: ModelInfo[]; value: string; onChange(v: string): void }) {
  const names = models.map((m) => m.name)
  const options = value && !names.includes(value) ? [value, ...names] : names
  const fallback = models.find((m) => m.default)?.name
  return (
    <label className="flex items-center gap-1.5 text-xs text-slate-600">
      <span>Model</span>
      <select data-testid="model-picker" value={value} onChange={(e) => onChange(e.target.value)} className={selectClass}>
        <option value="">{fallback ? `Default (${fallback})` : 'Server default'}</option>
        {options.map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
    </label>
  )
}

export function CollectionPicker({
  collections,
  value,
  onChange,
}: {
  collections: Collection[]
  value: string
  onChange(v: string): void
}) {
  const names = collections.map((c) => c.name)
  const options = !value || names.includes(value) ? collections : [{ collection_id: value, name: value }, ...collections]
  return (
    <label className="flex items-center gap-1.5 text-xs text-slate-600">
      <span>Collection</span>
      <select
        data-testid="collection-picker"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={selectClass}
      >
        <option value="">None (plain chat)</option>
        {options.map((c) => (
          <option key={c.collection_id} value={c.name}>
            {c.name}
            {c.documents != null ? ` (${c.documents})` : ''}
          </option>
        ))}
      </select>
    </label>
  )
}
