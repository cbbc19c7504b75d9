/** The form-field kit and small shared pieces: real labels, errors tied to their field, named buttons. */
import * as Dialog from '@radix-ui/react-dialog';
import { useId, type ReactNode } from 'react';
import type { StreamStatus } from '../api/event-stream.ts';

export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}): ReactNode {
  const id = useId();
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const describedBy = [props.error ? errId : '', props.hint ? hintId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint && (
        <span id={hintId} className="hint">
          {props.hint}
        </span>
      )}
      {props.error && (
        <span id={errId} className="field-error" role="alert">
          {props.error}
        </span>
      )}
    </div>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string | undefined;
  hint?: string;
  type?: string;
  name?: string;
  autoFocus?: boolean;
  inputMode?: 'numeric' | 'text';
  placeholder?: string;
  autoComplete?: string;
}): ReactNode {
  return (
    <Field label={props.label} error={props.error} {...(props.hint ? { hint: props.hint } : {})}>
      {(id, describedBy) => (
        <input
          id={id}
          name={props.name}
          type={props.type ?? 'text'}
          value={props.value}
          autoFocus={props.autoFocus}
          inputMode={props.inputMode}
          placeholder={props.placeholder}
          autoComplete={props.autoComplete}
          aria-invalid={props.error ? true : undefined}
          aria-describedby={describedBy}
          onChange={(e) => props.onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

export function ErrorBox({ error }: { error: string | null | undefined }): ReactNode {
  if (!error) return null;
  return (
    <div className="error-box" role="alert">
      {error}
    </div>
  );
}

export function Modal(props: {
  title: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  children: ReactNode;
  wide?: boolean;
  description?: string;
}): ReactNode {
  return (
    <Dialog.Root open={props.open} onOpenChange={props.onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <Dialog.Content className={props.wide ? 'dialog wide' : 'dialog'} aria-describedby={undefined}>
          <div className="dialog-head">
            <Dialog.Title>{props.title}</Dialog.Title>
            <Dialog.Close className="icon-button" aria-label="Close">
              ×
            </Dialog.Close>
          </div>
          {props.description && <Dialog.Description className="muted">{props.description}</Dialog.Description>}
          {props.children}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

export function StatusBadge({ status }: { status: string }): ReactNode {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function Empty({ children }: { children: ReactNode }): ReactNode {
  return <p className="empty">{children}</p>;
}

/** Whether a screen's live stream is up, as a pill (announced politely when it changes). */
export function LiveStatus({ status }: { status: StreamStatus }): ReactNode {
  return (
    <p className={`live-status live-${status}`} role="status" data-testid="live-status">
      <span aria-hidden="true">{status === 'live' ? '●' : '○'}</span>{' '}
      {status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </p>
  );
}
