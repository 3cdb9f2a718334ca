// A confirmation for an action that changes a node: says what will happen,
// asks why (kept in the node's history and the audit log), shows the API's
// answer or error.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useEscape } from '../ui.tsx';

export interface ConfirmProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** Ask for a reason (sent to the API). */
  askReason?: boolean;
  /** Ask for a repair or RMA ticket too (optional). */
  askTicket?: boolean;
  danger?: boolean;
  run: (reason: string, ticket: string) => Promise<string | void>;
  close: () => void;
}

export function ConfirmDialog({ title, children, confirmLabel, askReason = false, askTicket = false, danger = false, run, close }: ConfirmProps) {
  useEscape(close);
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const said = await run(reason.trim(), ticket.trim());
      if (said) setOutcome(said);
      else close();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-label={title}>
      <form onSubmit={submit}>
        <h2>{title}</h2>
        <div>{children}</div>
        {askReason && <label>Why <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} required autofocus placeholder="ticket, symptom…" /></label>}
        {askTicket && <label>Ticket <input value={ticket} onInput={(e) => setTicket(e.currentTarget.value)} placeholder="RMA or repair ticket (optional)" /></label>}
        {error && <p class="error" role="alert">{error}</p>}
        {outcome && <p role="status">{outcome}</p>}
        <div class="actions">
          <button type="button" onClick={close}>{outcome ? 'Close' : 'Cancel'}</button>
          {!outcome && <button type="submit" class={danger ? 'danger' : ''} disabled={busy || (askReason && reason.trim() === '')}>{busy ? 'Working…' : confirmLabel}</button>}
        </div>
      </form>
    </div>
  );
}
