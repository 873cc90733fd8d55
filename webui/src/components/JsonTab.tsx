// Raw caption JSON editor: valid edits update the form, invalid text is kept and marked.
import { useRef } from 'react';
import { formToCaption, prettyJson, type FormState, type JsonErrorInfo } from '../lib/caption';
import { useApp } from '../state';
import { FieldIssues } from './Issue';

export function JsonTab({ form, error, rootIssues }: { form: FormState; error: JsonErrorInfo | null; rootIssues?: string[] }) {
  const { setRawJson, toast } = useApp();
  const ref = useRef<HTMLTextAreaElement>(null);
  const text = form.rawJson;
  const lines = text.split('\n');
  const goToError = () => {
    if (!error || !ref.current) return;
    ref.current.focus();
    ref.current.setSelectionRange(error.pos, Math.min(text.length, error.pos + 1));
  };
  const format = () => {
    try {
      setRawJson(prettyJson(JSON.parse(text)));
    } catch {
      goToError();
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text || prettyJson(formToCaption(form)));
      toast('Copied JSON to clipboard.', 'success');
    } catch {
      toast('Copy failed (clipboard not available).', 'error');
    }
  };
  const errLine = error ? lines[error.line - 1] ?? '' : '';
  return (
    <div>
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <p className="flex-1 text-xs text-neutral-500">
          {text.trim() ? 'This JSON is sent as typed when you press Generate (unknown keys and key order are kept).' : 'Empty: Generate builds the caption from the form.'}
        </p>
        <button type="button" className="btn btn-sm" onClick={format} disabled={!text.trim()}>Format</button>
        <button type="button" className="btn btn-sm" onClick={() => void copy()}>Copy</button>
        <button type="button" className="btn btn-sm" onClick={() => setRawJson(prettyJson(formToCaption(form)))}>Rebuild from form</button>
      </div>
      {/* Long lines wrap (no sideways scrolling); the error box names the line and column. */}
      <textarea ref={ref} id="raw-json" aria-label="Caption JSON" spellCheck={false} wrap="soft"
        aria-invalid={!!error} aria-describedby={error ? 'json-error' : undefined}
        className={`block min-h-[420px] w-full resize-y whitespace-pre-wrap break-words rounded-md border bg-white px-2 py-1.5 font-mono text-xs leading-5 text-neutral-900 focus:outline-none dark:bg-neutral-950 dark:text-neutral-100 ${error ? 'border-red-500' : 'border-neutral-300 dark:border-neutral-700'}`}
        rows={Math.max(20, lines.length + 1)} value={text} onChange={(e) => setRawJson(e.target.value)} />
      {error && (
        <div id="json-error" role="alert" className="mt-2 rounded-md border border-red-300 bg-red-50 p-2 text-xs text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200" data-testid="json-error">
          <div className="flex items-center gap-2">
            <strong>Invalid JSON at <span data-testid="json-error-line">line {error.line}</span>, column {error.col}:</strong> {error.message}. Your text is kept; the form was not changed.
            <span className="flex-1" />
            <button type="button" className="btn btn-sm" onClick={goToError}>Go to error</button>
          </div>
          <pre className="mt-1 overflow-x-auto font-mono">{errLine}{'\n'}{' '.repeat(Math.max(0, error.col - 1))}^</pre>
        </div>
      )}
      <FieldIssues messages={rootIssues} />
    </div>
  );
}
