"use client";
// Copy to the clipboard, and the backup codes' copy and download (a data: link, so
// the download needs no server round trip and the codes never leave the page).
import { useState } from "react";

export function CopyButton({
  text,
  label = "Copy",
  testId = "copy",
}: {
  text: string;
  label?: string;
  testId?: string;
}) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-secondary btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setDone(true),
          () => setDone(false),
        );
      }}
      data-testid={testId}
      aria-live="polite"
    >
      {done ? "Copied" : label}
    </button>
  );
}

export function CodesActions({ codes }: { codes: string[] }) {
  const live = codes.filter((c) => c && !/used/i.test(c));
  const text = `Gatehouse backup codes (each works once)\n\n${live.join("\n")}\n`;
  return (
    <div className="actions codes-actions">
      <CopyButton text={live.join("\n")} label="Copy codes" testId="copy-codes" />
      <a
        className="btn btn-secondary btn-small"
        href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`}
        download="gatehouse-backup-codes.txt"
        data-testid="download-codes"
      >
        Download
      </a>
    </div>
  );
}
