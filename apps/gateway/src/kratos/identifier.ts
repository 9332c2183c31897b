// One counter per account, whatever spelling an attacker sends. Kratos finds a
// password (or code, or passkey) credential by strings.ToLower(strings.TrimSpace(x))
// (persistence/sql/identity NormalizeIdentifier): Go's TrimSpace trims every Unicode
// space (U+0085 and U+00A0 included, which JavaScript's trim() partly misses) and
// its ToLower maps "İ" to "i" (JavaScript's maps it to "i" + U+0307). The canonical
// spelling and its hash live in @gatehouse/contracts (the auth-service clears a lock
// by the same key); it is stricter than Kratos, so two spellings Kratos sees as one
// account always share a counter.
export { identifierKey, MAX_IDENTIFIER_LENGTH, normalizeIdentifier } from "@gatehouse/contracts";
