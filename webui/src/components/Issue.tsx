// Field-level messages: local checks and server verifier warnings.
export function FieldIssues({ id, messages, kind = 'warn' }: { id?: string; messages?: string[]; kind?: 'warn' | 'error' }) {
  if (!messages || !messages.length) return null;
  return (
    <ul id={id} className={kind === 'error' ? 'field-error' : 'field-issue'} data-testid="field-issue">
      {messages.map((m, i) => <li key={i}>{m}</li>)}
    </ul>
  );
}
