//go:build stack

// The example against the real test stack, run by test/sdk/sdk.test.ts with users it
// made in the real Kratos and auth-service: an owner, an admin and a member of one
// organization, and a user with none.
package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

func TestCompaniesAgainstTheStack(t *testing.T) {
	need := func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		t.Fatalf("%s is not set: run this through test/sdk/sdk.test.ts", name)
		return ""
	}
	guard, err := gatehouse.New(gatehouse.Config{AuthServiceURL: need("GATEHOUSE_AUTH_URL"), Audience: []string{"gatehouse"}})
	if err != nil {
		t.Fatal(err)
	}
	app := newRouter(guard, "")
	call := func(method, path, token, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("X-Session-Token", token)
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	admin, member, outsider := need("GATEHOUSE_ADMIN_TOKEN"), need("GATEHOUSE_MEMBER_TOKEN"), need("GATEHOUSE_SESSION_TOKEN")

	for _, kind := range []string{"companies", "teams"} {
		if code, body := call("POST", "/v1/"+kind, admin, `{"name":"Acme `+kind+`"}`); code != http.StatusCreated {
			t.Fatalf("admin writes %s: %d %s", kind, code, body)
		}
		if code, body := call("POST", "/v1/"+kind, member, `{"name":"Nope"}`); code != http.StatusForbidden || !strings.Contains(body, `"forbidden"`) {
			t.Fatalf("member writes %s: %d %s", kind, code, body)
		}
		if code, body := call("GET", "/v1/"+kind, member, ""); code != http.StatusOK || !strings.Contains(body, "Acme "+kind) {
			t.Fatalf("member reads %s: %d %s", kind, code, body)
		}
		if code, body := call("GET", "/v1/"+kind, outsider, ""); code != http.StatusForbidden {
			t.Fatalf("a user without an organization reads %s: %d %s", kind, code, body)
		}
		if code, body := call("GET", "/v1/"+kind, "", ""); code != http.StatusUnauthorized {
			t.Fatalf("anonymous reads %s: %d %s", kind, code, body)
		}
	}
	if code, body := call("POST", "/v1/teams", admin, `{"name":`); code != http.StatusBadRequest || !strings.Contains(body, "request_id") {
		t.Fatalf("bad JSON: %d %s", code, body)
	}
	if code, _ := call("GET", "/health", "", ""); code != http.StatusOK {
		t.Fatalf("health: %d", code)
	}
}
