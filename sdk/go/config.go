package gatehouse

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config of a Guard. Only AuthServiceURL and Audience are required.
type Config struct {
	// Base URL of the auth-service's public listener, e.g. http://127.0.0.1:7430.
	AuthServiceURL string
	// Accepted `aud` values; a token's aud must contain one. E.g. []string{"gatehouse"}.
	Audience []string
	// Required `iss`. Default: AuthServiceURL without a trailing slash.
	Issuer string
	// Default: AuthServiceURL + "/.well-known/jwks.json".
	JWKSURL string
	// Default RS256, ES256, EdDSA. Never none, never HMAC.
	Algorithms []string
	// Leeway for exp and nbf. Default 10 s.
	Leeway time.Duration
	// Kratos' session cookie. Default "ory_kratos_session".
	CookieName string
	// Deadline of one call to the auth-service or the JWKS. Default 3 s.
	Timeout time.Duration
	// Retry-After of a 503 when the upstream gave none. Default 5 s.
	RetryAfter time.Duration
	// An unknown kid refetches the key set at most this often. Default 30 s.
	RefetchFloor time.Duration
	// The key set is refetched when older than this. Default 5 min.
	JWKSMaxAge time.Duration
	// Upper bound for reusing an exchanged token (also how long a revoked session
	// keeps working here). Default 60 s; negative disables the cache.
	SessionCacheTTL time.Duration
	// Entries in the exchange cache. Default 10 000.
	SessionCacheSize int
	// Default: a client with no timeout of its own (Timeout applies per call).
	HTTPClient *http.Client
	// Clock (tests). Default time.Now.
	Now func() time.Time
}

var signingAlgs = map[string]bool{"RS256": true, "ES256": true, "EdDSA": true}

// resolve fills defaults and refuses a config that would not work, naming the field.
func (c Config) resolve() (Config, error) {
	u, err := url.Parse(c.AuthServiceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, errors.New("gatehouse: Config.AuthServiceURL must be an absolute http(s) URL")
	}
	c.AuthServiceURL = strings.TrimRight(c.AuthServiceURL, "/")
	if len(c.Audience) == 0 {
		return c, errors.New("gatehouse: Config.Audience is required")
	}
	for _, a := range c.Audience {
		if a == "" {
			return c, errors.New("gatehouse: Config.Audience must not contain empty strings")
		}
	}
	if c.Issuer == "" {
		c.Issuer = c.AuthServiceURL
	}
	if c.JWKSURL == "" {
		c.JWKSURL = c.AuthServiceURL + "/.well-known/jwks.json"
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	}
	for _, a := range c.Algorithms {
		if !signingAlgs[a] {
			return c, fmt.Errorf("gatehouse: Config.Algorithms: %q is not one of RS256, ES256, EdDSA", a)
		}
	}
	if c.Leeway < 0 || c.Timeout < 0 || c.RetryAfter < 0 || c.RefetchFloor < 0 || c.JWKSMaxAge < 0 || c.SessionCacheSize < 0 {
		return c, errors.New("gatehouse: Config durations and sizes must not be negative")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Leeway, 10*time.Second)
	def(&c.Timeout, 3*time.Second)
	def(&c.RetryAfter, 5*time.Second)
	def(&c.RefetchFloor, 30*time.Second)
	def(&c.JWKSMaxAge, 5*time.Minute)
	def(&c.SessionCacheTTL, 60*time.Second)
	if c.SessionCacheSize == 0 {
		c.SessionCacheSize = 10_000
	}
	if c.CookieName == "" {
		c.CookieName = "ory_kratos_session"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
