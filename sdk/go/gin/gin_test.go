package gatehousegin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
	gatehousegin "github.com/gatehouse/gatehouse/sdk/go/gin"
)

// The Gin adapter against the conformance table: same statuses and codes as net/http.
func TestGinConformance(t *testing.T) {
	raw, err := os.ReadFile("../../conformance/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Now      int64              `json:"now"`
		Issuer   string             `json:"issuer"`
		Audience string             `json:"audience"`
		JWKS     jose.JSONWebKeySet `json:"jwks"`
		Cases    []struct {
			Name, Token string
			Rule        struct {
				Roles, Permissions []string
				AAL                string
			}
			Expect struct {
				Status int
				Error  string
			}
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.Cases) < 30 {
		t.Fatalf("vectors: %v (%d cases)", err, len(v.Cases))
	}
	g, err := gatehouse.NewWithKeys(gatehouse.Config{
		AuthServiceURL: "http://auth.conformance.test", Issuer: v.Issuer, Audience: []string{v.Audience},
		Now: func() time.Time { return time.Unix(v.Now, 0) },
	}, v.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			r := gin.New()
			rule := gatehouse.Rule{Roles: c.Rule.Roles, Permissions: c.Rule.Permissions, AAL2: c.Rule.AAL == "aal2"}
			r.GET("/x", gatehousegin.Middleware(g), gatehousegin.Require(rule), func(ctx *gin.Context) {
				ctx.JSON(200, gin.H{"sub": gatehousegin.Principal(ctx).Subject})
			})
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.Header.Set("Authorization", "Bearer "+c.Token)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != c.Expect.Status || (c.Expect.Error != "" && body["error"] != c.Expect.Error) {
				t.Fatalf("got %d %v, want %d %q", rec.Code, body, c.Expect.Status, c.Expect.Error)
			}
			if rec.Code == 200 && body["sub"] == "" {
				t.Fatal("no principal in the handler")
			}
		})
	}
}
