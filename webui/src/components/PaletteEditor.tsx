// Colour palette: comma-separated text plus swatches with colour pickers.
import { normalizeHex, paletteTokens } from '../lib/caption';
import { IconPlus, IconX } from './Icons';

export function PaletteEditor({ value, onChange, invalid, describedBy }: {
  value: string;
  onChange: (v: string) => void;
  invalid?: boolean;
  describedBy?: string;
}) {
  const tokens = paletteTokens(value);
  const setToken = (i: number, v: string) => {
    const t = [...tokens];
    t[i] = v;
    onChange(t.join(', '));
  };
  const remove = (i: number) => onChange(tokens.filter((_, k) => k !== i).join(', '));
  const addColour = () => onChange([...tokens, '#808080'].join(', '));
  return (
    <div>
      <input id="f-cp" className={`input font-mono ${invalid ? 'input-invalid' : ''}`} value={value}
        placeholder="#1B2A49, #F2A541" aria-describedby={describedBy} aria-invalid={invalid || undefined}
        onChange={(e) => onChange(e.target.value)}
        onBlur={() => {
          // Normalise on blur: upper-case, #RGB expanded, duplicates removed; invalid tokens stay for fixing.
          const out: string[] = [];
          for (const t of tokens) {
            const n = normalizeHex(t) ?? t;
            if (!out.includes(n)) out.push(n);
          }
          const next = out.join(', ');
          if (next !== value) onChange(next);
        }} />
      <div className="mt-2 flex flex-wrap items-center gap-1.5" data-testid="palette-swatches">
        {tokens.map((t, i) => {
          const hex = normalizeHex(t);
          return (
            <div key={`${i}-${t}`} className={`flex items-center gap-1 rounded-md border px-1 py-0.5 ${hex ? 'border-neutral-300 dark:border-neutral-700' : 'border-red-500'}`}>
              <input type="color" aria-label={`Colour ${i + 1} (${t})`} className="h-6 w-7 cursor-pointer rounded border-0 bg-transparent p-0"
                value={(hex ?? '#000000').toLowerCase()} onChange={(e) => setToken(i, e.target.value.toUpperCase())} />
              <span className="font-mono text-[11px]">{hex ?? t}</span>
              <button type="button" className="text-neutral-500 hover:text-red-600" aria-label={`Remove colour ${i + 1}`} onClick={() => remove(i)}>
                <IconX />
              </button>
            </div>
          );
        })}
        <button type="button" className="btn btn-sm" onClick={addColour} disabled={tokens.length >= 16}>
          <IconPlus /> Colour
        </button>
      </div>
    </div>
  );
}
