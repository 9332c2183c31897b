// Package gatehouse protects Go HTTP services with Gatehouse: it verifies Gatehouse
// access tokens (JWTs) against the auth-service's JWKS, exchanges Kratos sessions and
// API keys for them at the auth-service, and answers like the Node guard: 401 for a
// missing or bad credential, 403 for one that is not enough, and 503 with Retry-After
// when the auth-service or its keys cannot be reached (an outage is never "signed out").
package gatehouse

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"

	"github.com/go-jose/go-jose/v4"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Guard authenticates requests. Safe for concurrent use; make one per process.
type Guard struct {
	cfg      Config
	keys     *keySet
	sessions *lru.Cache[string, cachedPrincipal]
	flight   singleflight.Group
}

// New checks cfg (an error names the bad field) and returns a Guard.
func New(cfg Config) (*Guard, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	sessions, err := lru.New[string, cachedPrincipal](c.SessionCacheSize)
	if err != nil {
		return nil, err
	}
	keys := &keySet{url: c.JWKSURL, client: c.HTTPClient, timeout: c.Timeout, floor: c.RefetchFloor, maxAge: c.JWKSMaxAge, now: c.Now}
	return &Guard{cfg: c, keys: keys, sessions: sessions}, nil
}

// NewWithKeys is New with a fixed key set that is never fetched (tests, offline verification).
func NewWithKeys(cfg Config, set jose.JSONWebKeySet) (*Guard, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	g.keys = staticKeySet(set, g.cfg.Now)
	return g, nil
}

// Authenticate finds the request's credential and returns its principal, or an *Error.
func (g *Guard) Authenticate(r *http.Request) (*Principal, *Error) {
	cred, e := ExtractCredential(r, g.cfg.CookieName)
	if e != nil {
		return nil, e
	}
	if cred == nil {
		return nil, newError(CodeUnauthenticated, "sign in first (accepted: session, jwt, api_key)", nil)
	}
	if cred.Kind == "jwt" {
		claims, err := g.Verify(r.Context(), cred.Value)
		if err != nil {
			return nil, g.tokenRefusal(err)
		}
		return principalFrom(claims, cred.Value, "jwt"), nil
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = ""
	}
	p, err2 := g.exchangeCredential(r.Context(), *cred, host)
	if err2 != nil {
		return nil, AsError(err2)
	}
	return p, nil
}

// tokenRefusal: a bad token is a 401; keys that cannot be fetched are our outage, a 503.
func (g *Guard) tokenRefusal(err error) *Error {
	var te *TokenError
	if errors.As(err, &te) && te.Reason == ReasonJWKSUnavailable {
		return g.unavailable("the token signing keys are unavailable", 0, err)
	}
	reason := "invalid"
	if te != nil {
		reason = string(te.Reason)
	}
	return newError(CodeInvalidToken, "access token rejected ("+reason+")", err)
}

// Middleware authenticates every request (401/400/503 otherwise) and puts the
// principal in its context (PrincipalFrom). Combine with Require for authorization.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, e := g.Authenticate(r)
		if e != nil {
			WriteError(w, r, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Require answers 403 unless the authenticated principal satisfies rule; a request
// that did not pass the Middleware is a 401.
func Require(rule Rule) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := PrincipalFrom(r.Context())
			if p == nil {
				WriteError(w, r, newError(CodeUnauthenticated, "sign in first", nil))
				return
			}
			if e := Authorize(p, rule); e != nil {
				WriteError(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireRoles: the caller's organization role must be one of roles.
func RequireRoles(roles ...string) func(http.Handler) http.Handler {
	return Require(Rule{Roles: roles})
}

// RequirePermissions: the caller must hold every one of perms.
func RequirePermissions(perms ...string) func(http.Handler) http.Handler {
	return Require(Rule{Permissions: perms})
}

// RequireAAL2: the caller must have signed in with a second factor.
func RequireAAL2() func(http.Handler) http.Handler { return Require(Rule{AAL2: true}) }

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// RequestID is the client's X-Request-Id when it is sane, else a fresh one.
func RequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteError sends e as the Node guard does: JSON {error, message, request_id}, no-store,
// Retry-After on 429/503, WWW-Authenticate on 401.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	id := RequestID(r)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store") // a decision about one caller must never be served to another
	h.Set("X-Request-Id", id)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": string(e.Code), "message": e.Message, "request_id": id})
}
