package gatehouse_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

// The conformance table (sdk/conformance/vectors.json, written by the TypeScript
// generator): the Node guard and sdk/python reach the same outcome for every case.
type vectors struct {
	Now       int64              `json:"now"`
	Leeway    int                `json:"leeway_sec"`
	Issuer    string             `json:"issuer"`
	Audience  string             `json:"audience"`
	Algorithm []string           `json:"algorithms"`
	JWKS      jose.JSONWebKeySet `json:"jwks"`
	Cases     []vectorCase       `json:"cases"`
}

type vectorCase struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	Rule  struct {
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
		AAL         string   `json:"aal"`
	} `json:"rule"`
	Expect struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
		Reason string `json:"reason"`
	} `json:"expect"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	raw, err := os.ReadFile("../conformance/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 30 || len(v.JWKS.Keys) != 3 {
		t.Fatalf("vector file looks truncated: %d cases, %d keys", len(v.Cases), len(v.JWKS.Keys))
	}
	return v
}

func TestConformanceVectors(t *testing.T) {
	v := loadVectors(t)
	now := time.Unix(v.Now, 0)
	g, err := gatehouse.NewWithKeys(gatehouse.Config{
		AuthServiceURL: "http://auth.conformance.test",
		Issuer:         v.Issuer,
		Audience:       []string{v.Audience},
		Algorithms:     v.Algorithm,
		Leeway:         time.Duration(v.Leeway) * time.Second,
		Now:            func() time.Time { return now },
	}, v.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			rule := gatehouse.Rule{Roles: c.Rule.Roles, Permissions: c.Rule.Permissions, AAL2: c.Rule.AAL == "aal2"}
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if gatehouse.PrincipalFrom(r.Context()) == nil {
					t.Error("allowed without a principal")
				}
			})
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.Header.Set("Authorization", "Bearer "+c.Token)
			rec := httptest.NewRecorder()
			g.Middleware(gatehouse.Require(rule)(ok)).ServeHTTP(rec, req)

			if rec.Code != c.Expect.Status {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, c.Expect.Status, rec.Body.String())
			}
			if c.Expect.Error != "" {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				if body["error"] != c.Expect.Error || body["request_id"] == "" || body["message"] == "" {
					t.Fatalf("body %v, want error %q", body, c.Expect.Error)
				}
			}
			if c.Expect.Reason != "" {
				_, err := g.Verify(req.Context(), c.Token)
				var te *gatehouse.TokenError
				if !errors.As(err, &te) || string(te.Reason) != c.Expect.Reason {
					t.Fatalf("reason %v, want %s", err, c.Expect.Reason)
				}
			}
		})
	}
}
