// Package gatehousegin adapts the Gatehouse guard (github.com/gatehouse/gatehouse/sdk/go)
// to Gin: the same decisions and error bodies as the net/http middleware.
package gatehousegin

import (
	"github.com/gin-gonic/gin"

	gatehouse "github.com/gatehouse/gatehouse/sdk/go"
)

// Middleware authenticates every request (401/400/503 otherwise, aborting the chain)
// and puts the principal in the request's context (Principal, gatehouse.PrincipalFrom).
func Middleware(g *gatehouse.Guard) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, e := g.Authenticate(c.Request)
		if e != nil {
			gatehouse.WriteError(c.Writer, c.Request, e)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(gatehouse.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// Principal is the caller Middleware authenticated, or nil.
func Principal(c *gin.Context) *gatehouse.Principal {
	return gatehouse.PrincipalFrom(c.Request.Context())
}

// Require answers 403 unless the principal satisfies rule (401 without Middleware in front).
func Require(rule gatehouse.Rule) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := Principal(c)
		if p == nil {
			gatehouse.WriteError(c.Writer, c.Request, &gatehouse.Error{Status: 401, Code: gatehouse.CodeUnauthenticated, Message: "sign in first"})
			c.Abort()
			return
		}
		if e := gatehouse.Authorize(p, rule); e != nil {
			gatehouse.WriteError(c.Writer, c.Request, e)
			c.Abort()
			return
		}
		c.Next()
	}
}

// RequireRoles: the caller's organization role must be one of roles.
func RequireRoles(roles ...string) gin.HandlerFunc { return Require(gatehouse.Rule{Roles: roles}) }

// RequirePermissions: the caller must hold every one of perms.
func RequirePermissions(perms ...string) gin.HandlerFunc {
	return Require(gatehouse.Rule{Permissions: perms})
}

// RequireAAL2: the caller must have signed in with a second factor.
func RequireAAL2() gin.HandlerFunc { return Require(gatehouse.Rule{AAL2: true}) }
