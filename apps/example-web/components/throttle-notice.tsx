// Shown when the gateway sent a throttled sign-in (or recovery, verification,
// sign-up) attempt back to its page with ?retry_after=<seconds>. Worded the same
// whether or not the account exists.
export function waitText(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "a minute" : `${minutes} minutes`;
}

export function ThrottleNotice({ retryAfter }: { retryAfter: string | undefined }) {
  const seconds = Number(retryAfter);
  if (retryAfter === undefined || !Number.isFinite(seconds) || seconds <= 0) return null;
  return (
    <p className="message message-error" role="alert" data-testid="throttled">
      Too many attempts. For your security, please wait {waitText(Math.min(seconds, 86_400))} before you try again.
    </p>
  );
}
