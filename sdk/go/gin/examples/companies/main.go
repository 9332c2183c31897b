// An example Gin backend in the seed product's shape (companies and teams: members read,
// admins write), protected by Gatehouse. Against the default local stack:
//
//	cd sdk/go/gin && go run ./examples/companies
//	curl -H "X-Session-Token: $TOKEN" http://localhost:8082/v1/companies
//
// Environment: AUTH_SERVICE_URL, LISTEN (localhost:8082), PREFIX (a path prefix, e.g. /gin).
package main

import (
	"log"
	"os"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

func main() {
	authURL, addr := os.Getenv("AUTH_SERVICE_URL"), os.Getenv("LISTEN")
	if authURL == "" {
		authURL = "http://127.0.0.1:7410"
	}
	if addr == "" {
		addr = "localhost:8082"
	}
	guard, err := gatehouse.New(gatehouse.Config{AuthServiceURL: authURL, Audience: []string{"gatehouse"}})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("companies example on http://%s", addr)
	log.Fatal(newRouter(guard, os.Getenv("PREFIX")).Run(addr))
}
