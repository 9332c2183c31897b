// One counter per account, whatever spelling an attacker sends. Kratos finds a
// password (or code, or passkey) credential by strings.ToLower(strings.TrimSpace(x))
// (persistence/sql/identity NormalizeIdentifier): Go's TrimSpace trims every Unicode
// space (U+0085 and U+00A0 included, which JavaScript's trim() partly misses) and
// its ToLower maps "İ" to "i" (JavaScript's maps it to "i" + U+0307). The key here is
// stricter than Kratos, so two spellings Kratos sees as one account always share a
// counter; a few spellings Kratos tells apart share one too, which only costs a
// legitimate look-alike account a shared lockout.
import { createHash } from "node:crypto";

/** Longest identifier counted (a longer one is refused, not counted elsewhere). */
export const MAX_IDENTIFIER_LENGTH = 320;

/**
 * The canonical spelling: compatibility-normalized (NFKC: fullwidth, ligatures,
 * "ſ" → "s"), with every space, control and format character removed (zero-width
 * ones included), lower-cased, and stripped of combining marks ("İ" → "i", "é" → "e").
 */
export function normalizeIdentifier(raw: string): string {
  const compat = raw.normalize("NFKC").replace(/[\p{White_Space}\p{Cc}\p{Cf}]/gu, "");
  const marksApart = compat.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "");
  return marksApart.normalize("NFKC").toLowerCase();
}

/** The counter key of an identifier: a hash of its canonical spelling (Redis never holds the address). */
export function identifierKey(raw: string): string {
  return createHash("sha256").update(normalizeIdentifier(raw)).digest("hex").slice(0, 32);
}
