//go:build stack

// Against the real test stack (Kratos, auth-service), run by test/sdk/sdk.test.ts with
// `go test -tags stack`, which registers a real user and passes its credentials here.
package gatehouse_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

func need(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this through test/sdk/sdk.test.ts", name)
	}
	return v
}

// countingTransport counts the exchanges this guard makes.
type countingTransport struct{ exchanges atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/token") {
		c.exchanges.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func whoami(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := gatehouse.PrincipalFrom(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": p.Subject, "email": p.Email, "via": p.Via, "token": p.Token})
	})
}

func serve(h http.Handler, header http.Header) (*httptest.ResponseRecorder, map[string]string) {
	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	req.Header = header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

func TestStackRealSession(t *testing.T) {
	counter := &countingTransport{}
	g, err := gatehouse.New(gatehouse.Config{
		AuthServiceURL: need(t, "GATEHOUSE_AUTH_URL"),
		Audience:       []string{"gatehouse"},
		HTTPClient:     &http.Client{Transport: counter},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Middleware(whoami(t))
	cookie := http.Header{"Cookie": {"ory_kratos_session=" + need(t, "GATEHOUSE_SESSION_COOKIE")}}

	// Many requests with one fresh cookie at once: one exchange, one principal.
	var wg sync.WaitGroup
	results := make([]*httptest.ResponseRecorder, 16)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], _ = serve(h, cookie.Clone()) }()
	}
	wg.Wait()
	for _, rec := range results {
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), need(t, "GATEHOUSE_SUBJECT")) {
			t.Fatalf("cookie: %d %s", rec.Code, rec.Body.String())
		}
	}
	if n := counter.exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges for one credential, want 1", n)
	}

	// The token it got verifies on the JWT path against the real JWKS.
	_, body := serve(h, cookie.Clone())
	rec, viaJWT := serve(h, http.Header{"Authorization": {"Bearer " + body["token"]}})
	if rec.Code != 200 || viaJWT["via"] != "jwt" || viaJWT["sub"] != need(t, "GATEHOUSE_SUBJECT") {
		t.Fatalf("jwt: %d %v", rec.Code, viaJWT)
	}
	// A Kratos session token, from another registration.
	rec, viaToken := serve(h, http.Header{"X-Session-Token": {need(t, "GATEHOUSE_SESSION_TOKEN")}})
	if rec.Code != 200 || viaToken["via"] != "session" || viaToken["sub"] == viaJWT["sub"] {
		t.Fatalf("session token: %d %v", rec.Code, viaToken)
	}
	// An organization API key, as a bearer token and as X-API-Key.
	for _, header := range []http.Header{
		{"Authorization": {"Bearer " + need(t, "GATEHOUSE_API_KEY")}},
		{"X-Api-Key": {need(t, "GATEHOUSE_API_KEY")}},
	} {
		if rec, body := serve(h, header); rec.Code != 200 || body["via"] != "api_key" {
			t.Fatalf("API key: %d %v", rec.Code, body)
		}
	}
	if rec, body := serve(h, http.Header{"X-Api-Key": {"sk_not_a_real_key_000000000000"}}); rec.Code != 401 || body["error"] != "invalid_api_key" {
		t.Fatalf("unknown API key: %d %v", rec.Code, body)
	}
	// No credential, or one Kratos does not know: 401, never a principal.
	for name, header := range map[string]http.Header{
		"none":           {},
		"unknown cookie": {"Cookie": {"ory_kratos_session=MTY5bm90LWEtc2Vzc2lvbg"}},
		"unknown token":  {"X-Session-Token": {"ory_st_notarealsessiontoken0000000000"}},
	} {
		rec, body := serve(h, header)
		if rec.Code != 401 || body["error"] != "unauthenticated" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: %d %v", name, rec.Code, body)
		}
	}
	// Authenticated but not enough: the fresh user has no organization.
	rec, refused := serve(g.Middleware(gatehouse.RequireRoles("admin")(whoami(t))), cookie.Clone())
	if rec.Code != 403 || refused["error"] != "forbidden" {
		t.Fatalf("roles: %d %v", rec.Code, refused)
	}
}

func TestStackOutageIsNot401(t *testing.T) {
	// A token from the real auth-service, to show the JWT path too needs its keys.
	real, err := gatehouse.New(gatehouse.Config{AuthServiceURL: need(t, "GATEHOUSE_AUTH_URL"), Audience: []string{"gatehouse"}})
	if err != nil {
		t.Fatal(err)
	}
	_, body := serve(real.Middleware(whoami(t)), http.Header{"X-Session-Token": {need(t, "GATEHOUSE_SESSION_TOKEN")}})
	if body["token"] == "" {
		t.Fatalf("no token from the real auth-service: %v", body)
	}

	// The same credentials, with the auth-service gone (nothing listens on the port).
	down, err := gatehouse.New(gatehouse.Config{
		AuthServiceURL: need(t, "GATEHOUSE_CLOSED_URL"),
		Issuer:         need(t, "GATEHOUSE_AUTH_URL"),
		Audience:       []string{"gatehouse"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, header := range map[string]http.Header{
		"cookie": {"Cookie": {"ory_kratos_session=" + need(t, "GATEHOUSE_SESSION_COOKIE")}},
		"token":  {"X-Session-Token": {need(t, "GATEHOUSE_SESSION_TOKEN")}},
		"jwt":    {"Authorization": {"Bearer " + body["token"]}},
	} {
		rec, refused := serve(down.Middleware(whoami(t)), header)
		if rec.Code != 503 || refused["error"] != "dependency_unavailable" || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: %d %v (Retry-After %q)", name, rec.Code, refused, rec.Header().Get("Retry-After"))
		}
	}
}
