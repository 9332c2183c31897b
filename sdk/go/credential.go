package gatehouse

import (
	"net/http"
	"regexp"
	"strings"
)

// Credential is what a request authenticates with.
type Credential struct {
	Kind   string // "jwt", "session" or "api_key"
	Cookie bool   // a session taken from the Kratos cookie (else a session token)
	Value  string
}

const maxCredentialLength = 4096

var (
	bearer   = regexp.MustCompile(`^(?i:bearer)\s+([A-Za-z0-9\-._~+/]+=*)$`)
	b64token = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
)

func classify(token string) Credential {
	switch {
	case strings.HasPrefix(token, "sk_"):
		return Credential{Kind: "api_key", Value: token}
	case strings.HasPrefix(token, "ory_st_"): // Kratos accepts its session token as a bearer token too
		return Credential{Kind: "session", Value: token}
	}
	return Credential{Kind: "jwt", Value: token}
}

// ExtractCredential finds the request's credential, with the Node guard's rules:
// explicit credentials (Authorization, X-API-Key, X-Session-Token) win over the
// ambient cookie; a broken explicit one is a 401, never shadowed by the cookie; two
// that disagree are a 400. Returns nil, nil when there is none.
func ExtractCredential(r *http.Request, cookieName string) (*Credential, *Error) {
	var found []Credential
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		if len(v) > 1 || strings.Contains(v[0], ",") {
			return nil, newError(CodeAmbiguous, "a credential header was sent more than once", nil)
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v[0])), "bearer") {
			m := bearer.FindStringSubmatch(strings.TrimSpace(v[0]))
			if m == nil || len(m[1]) > maxTokenLength {
				return nil, newError(CodeUnauthenticated, "the credential is malformed", nil)
			}
			found = append(found, classify(m[1]))
		} // other schemes (Basic, …) are not ours
	}
	for _, h := range []struct{ name, kind string }{{"X-API-Key", "api_key"}, {"X-Session-Token", "session"}} {
		v := r.Header.Values(h.name)
		if len(v) == 0 || strings.TrimSpace(v[0]) == "" {
			continue
		}
		token := strings.TrimSpace(v[0])
		if len(v) > 1 || strings.Contains(token, ",") {
			return nil, newError(CodeAmbiguous, "a credential header was sent more than once", nil)
		}
		if len(token) > maxCredentialLength || !b64token.MatchString(token) {
			return nil, newError(CodeUnauthenticated, "the credential is malformed", nil)
		}
		found = append(found, Credential{Kind: h.kind, Value: token})
	}
	for _, c := range found[min(1, len(found)):] {
		if c != found[0] {
			return nil, newError(CodeAmbiguous, "the request carries more than one different credential", nil)
		}
	}
	if len(found) > 0 {
		return &found[0], nil
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" && len(c.Value) <= maxCredentialLength {
		return &Credential{Kind: "session", Cookie: true, Value: c.Value}, nil
	}
	return nil, nil
}
