// A net/http service protected by Gatehouse, against the default local stack
// (`./gatehouse up`: auth-service on http://127.0.0.1:7410).
//
//	go run ./examples/hello
//	curl -H "X-Session-Token: $TOKEN" http://localhost:8080/whoami
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

func main() {
	authURL := os.Getenv("AUTH_SERVICE_URL")
	if authURL == "" {
		authURL = "http://127.0.0.1:7410"
	}
	guard, err := gatehouse.New(gatehouse.Config{AuthServiceURL: authURL, Audience: []string{"gatehouse"}})
	if err != nil {
		log.Fatal(err) // names the bad field
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		p := gatehouse.PrincipalFrom(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"user": p.Subject, "email": p.Email, "org": p.OrganizationID, "role": p.Role})
	})
	// Admins of an organization only, with a second factor.
	mux.Handle("POST /admin/things", gatehouse.RequireRoles("admin", "owner")(gatehouse.RequireAAL2()(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))))

	log.Println("listening on http://localhost:8080")
	log.Fatal(http.ListenAndServe("localhost:8080", guard.Middleware(mux)))
}
