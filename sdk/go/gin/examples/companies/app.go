package main

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
	gatehousegin "github.com/gatehouse/gatehouse/sdk/go/gin"
)

// store keeps each organization's companies and teams in memory: an example, not a database.
type store struct {
	mu   sync.Mutex
	data map[string]map[string][]string // org → kind ("companies", "teams") → names
}

// newRouter is the seed's shape: members read, admins and owners write, and every
// caller sees only their own organization's data. prefix ("" or e.g. "/gin") is where
// the API lives, so a gateway can route a path prefix here (it does not strip one).
func newRouter(guard *gatehouse.Guard, prefix string) *gin.Engine {
	s := &store{data: map[string]map[string][]string{}}
	r := gin.New()
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })

	v1 := r.Group(prefix+"/v1", gatehousegin.Middleware(guard), gatehousegin.RequireRoles("member", "admin", "owner"))
	writers := gatehousegin.RequireRoles("admin", "owner")
	for _, kind := range []string{"companies", "teams"} {
		v1.GET("/"+kind, s.list(kind))
		v1.POST("/"+kind, writers, s.create(kind))
	}
	return r
}

func (s *store) list(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		org := gatehousegin.Principal(c).OrganizationID
		s.mu.Lock()
		names := append([]string{}, s.data[org][kind]...)
		s.mu.Unlock()
		sort.Strings(names)
		c.JSON(http.StatusOK, gin.H{kind: names})
	}
}

func (s *store) create(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			Name string `json:"name"`
		}
		if err := c.ShouldBindJSON(&body); err != nil || strings.TrimSpace(body.Name) == "" || len(body.Name) > 200 {
			gatehouse.WriteError(c.Writer, c.Request, &gatehouse.Error{Status: 400, Code: "invalid_request", Message: "a JSON body {\"name\": \"…\"} (1-200 characters) is required"})
			c.Abort()
			return
		}
		org := gatehousegin.Principal(c).OrganizationID
		s.mu.Lock()
		if s.data[org] == nil {
			s.data[org] = map[string][]string{}
		}
		s.data[org][kind] = append(s.data[org][kind], body.Name)
		s.mu.Unlock()
		c.JSON(http.StatusCreated, gin.H{"name": body.Name})
	}
}
