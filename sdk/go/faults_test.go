package gatehouse_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

// A stand-in auth-service: a JWKS and POST /v1/token whose answers a test picks, and
// counters of how often each was asked. The real one is in stack_test.go.
type stubAuth struct {
	*httptest.Server
	key        *ecdsa.PrivateKey
	kid        string
	jwksCalls  atomic.Int32
	tokenCalls atomic.Int32
	mu         sync.Mutex
	status     int // of POST /v1/token
	body       string
	headers    map[string]string
	jwksDown   bool
}

func newStubAuth(t *testing.T) *stubAuth {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := &stubAuth{key: key, kid: "k1", status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			s.jwksCalls.Add(1)
			if s.jwksDown {
				w.WriteHeader(503)
				return
			}
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: "ES256", Use: "sig"}}})
		case "/v1/token":
			s.tokenCalls.Add(1)
			time.Sleep(20 * time.Millisecond) // long enough for concurrent callers to pile up
			for k, v := range s.headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(s.status)
			body := s.body
			if s.status == 200 && body == "" {
				body = `{"access_token":"` + s.mint(t, s.kid) + `"}`
			}
			_, _ = w.Write([]byte(body))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stubAuth) mint(t *testing.T, kid string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := map[string]any{
		"iss": s.URL, "aud": []string{"gatehouse"}, "sub": "u1", "sid": "s1", "jti": "j1", "ver": 1,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"teams": []any{}, "perms": []string{}, "aal": "aal1", "amr": []string{"password"},
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func (s *stubAuth) setJWKSDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwksDown = down
}

func (s *stubAuth) answer(status int, body string, headers map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.headers = status, body, headers
}

func call(g *gatehouse.Guard, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header = header
	rec := httptest.NewRecorder()
	g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
	return rec
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestJWKSRefetchOnUnknownKidHasAFloor(t *testing.T) {
	s := newStubAuth(t)
	now := time.Now()
	clock := func() time.Time { return now }
	g, _ := gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}, Now: clock})

	if rec := call(g, bearer(s.mint(t, "k1"))); rec.Code != 200 || s.jwksCalls.Load() != 1 {
		t.Fatalf("first token: %d, %d fetches", rec.Code, s.jwksCalls.Load())
	}
	// Within the floor of that first fetch, a made-up kid does not refetch; after it, one
	// refetch serves any number of made-up kids until the floor has passed again.
	if rec := call(g, bearer(s.mint(t, "nope"))); rec.Code != 401 || s.jwksCalls.Load() != 1 {
		t.Fatalf("unknown kid right after a fetch: %d, %d fetches", rec.Code, s.jwksCalls.Load())
	}
	now = now.Add(31 * time.Second)
	for range 5 {
		if rec := call(g, bearer(s.mint(t, "nope"))); rec.Code != 401 {
			t.Fatalf("unknown kid: %d", rec.Code)
		}
	}
	if n := s.jwksCalls.Load(); n != 2 {
		t.Fatalf("%d fetches after unknown kids within the floor, want 2", n)
	}
	// A rotation: the new kid is found by the refetch the floor allows.
	now = now.Add(31 * time.Second)
	s.mu.Lock()
	s.kid = "k2"
	s.mu.Unlock()
	if rec := call(g, bearer(s.mint(t, "k2"))); rec.Code != 200 || s.jwksCalls.Load() != 3 {
		t.Fatalf("rotated kid: %d, %d fetches", rec.Code, s.jwksCalls.Load())
	}
}

func TestJWKSOutage(t *testing.T) {
	s := newStubAuth(t)
	s.setJWKSDown(true)
	g, _ := gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}})
	rec := call(g, bearer(s.mint(t, "k1")))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("no key set ever: %d (Retry-After %q), want 503", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Once keys were fetched, an outage of the JWKS keeps them in use.
	s.setJWKSDown(false)
	now := time.Now()
	g, _ = gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}, JWKSMaxAge: time.Minute, Now: func() time.Time { return now }})
	_ = call(g, bearer(s.mint(t, "k1")))
	s.setJWKSDown(true)
	now = now.Add(2 * time.Minute) // stale: refetched, which fails, so the old keys serve
	before := s.jwksCalls.Load()
	if rec := call(g, bearer(s.mint(t, "k1"))); rec.Code != 200 || s.jwksCalls.Load() != before+1 {
		t.Fatalf("cached keys during a JWKS outage: %d (%d fetches)", rec.Code, s.jwksCalls.Load()-before)
	}
}

func TestExchangeAnswers(t *testing.T) {
	cookie := http.Header{"Cookie": {"ory_kratos_session=abc"}}
	for _, c := range []struct {
		name       string
		status     int
		body       string
		headers    map[string]string
		header     http.Header
		want       int
		code       string
		retryAfter string
	}{
		{"session refused", 401, `{"error":"unauthenticated"}`, nil, cookie, 401, "unauthenticated", ""},
		{"API key refused", 401, `{}`, nil, bearer("sk_live_x"), 401, "invalid_api_key", ""},
		{"second factor needed", 403, `{"error":"aal2_required"}`, nil, cookie, 403, "aal2_required", ""},
		{"deactivated by another service", 403, `{"error":"user_deactivated"}`, nil, cookie, 403, "forbidden", ""},
		{"rate limited", 429, `{}`, map[string]string{"Retry-After": "7"}, cookie, 429, "rate_limited", "7"},
		{"5xx", 502, `<html>bad gateway</html>`, nil, cookie, 503, "dependency_unavailable", "5"},
		{"5xx with Retry-After", 503, `{}`, map[string]string{"Retry-After": "9"}, cookie, 503, "dependency_unavailable", "9"},
		{"misconfigured (404)", 404, `{}`, nil, cookie, 503, "dependency_unavailable", "5"},
		{"200 without a token", 200, `{}`, nil, cookie, 503, "dependency_unavailable", "5"},
		{"200 with a token that does not verify", 200, `{"access_token":"a.b.c"}`, nil, cookie, 503, "dependency_unavailable", "5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStubAuth(t)
			s.answer(c.status, c.body, c.headers)
			g, _ := gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}})
			rec := call(g, c.header)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != c.want || body["error"] != c.code || rec.Header().Get("Retry-After") != c.retryAfter {
				t.Fatalf("got %d %v Retry-After %q", rec.Code, body, rec.Header().Get("Retry-After"))
			}
		})
	}
}

func TestExchangeIsCachedAndSingleFlight(t *testing.T) {
	s := newStubAuth(t)
	g, _ := gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}})
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = call(g, http.Header{"X-Session-Token": {"ory_st_one"}}).Code }()
	}
	wg.Wait()
	_ = call(g, http.Header{"X-Session-Token": {"ory_st_one"}})
	for _, code := range codes {
		if code != 200 {
			t.Fatalf("codes %v", codes)
		}
	}
	if n := s.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d exchanges for one credential, want 1", n)
	}
	// Failures are not cached: a refused credential is asked about again.
	s.answer(401, `{}`, nil)
	_ = call(g, http.Header{"X-Session-Token": {"ory_st_two"}})
	_ = call(g, http.Header{"X-Session-Token": {"ory_st_two"}})
	if n := s.tokenCalls.Load(); n != 3 {
		t.Fatalf("%d exchanges, want 3", n)
	}
}

func TestCredentialConflicts(t *testing.T) {
	s := newStubAuth(t)
	g, _ := gatehouse.New(gatehouse.Config{AuthServiceURL: s.URL, Audience: []string{"gatehouse"}})
	for name, c := range map[string]struct {
		header http.Header
		want   int
	}{
		"two different explicit credentials": {http.Header{"Authorization": {"Bearer sk_a"}, "X-Session-Token": {"ory_st_b"}}, 400},
		"a header sent twice":                {http.Header{"X-Api-Key": {"sk_a", "sk_b"}}, 400},
		"malformed bearer beats the cookie":  {http.Header{"Authorization": {"Bearer a b"}, "Cookie": {"ory_kratos_session=abc"}}, 401},
		"Basic is not ours":                  {http.Header{"Authorization": {"Basic dTpw"}}, 401},
	} {
		if rec := call(g, c.header); rec.Code != c.want {
			t.Fatalf("%s: %d, want %d", name, rec.Code, c.want)
		}
	}
	if n := s.tokenCalls.Load(); n != 0 {
		t.Fatalf("%d exchanges for refused credentials", n)
	}
}

func TestConfigNamesTheBadField(t *testing.T) {
	for field, cfg := range map[string]gatehouse.Config{
		"AuthServiceURL": {AuthServiceURL: "auth.example", Audience: []string{"gatehouse"}},
		"Audience":       {AuthServiceURL: "http://a"},
		"Algorithms":     {AuthServiceURL: "http://a", Audience: []string{"x"}, Algorithms: []string{"HS256"}},
	} {
		if _, err := gatehouse.New(cfg); err == nil || !contains(err.Error(), field) {
			t.Fatalf("%s: %v", field, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
