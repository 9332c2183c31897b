package gatehouse

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Principal is the authenticated caller, built from a verified access token.
type Principal struct {
	Subject        string // Kratos identity id (sub)
	SessionID      string // Kratos session id, or api_key:<id> (sid)
	Email          string // empty on machine tokens
	EmailVerified  bool
	OrganizationID string
	Plan           string
	Role           string
	MFARequired    bool // the organization requires a second factor: every route needs aal2
	Teams          []TeamMembership
	Permissions    []string
	AAL            string
	AMR            []string
	Via            string // "jwt", "session" or "api_key"
	Token          string // the verified Gatehouse JWT, to forward upstream
	ExpiresAt      time.Time
}

func principalFrom(c *Claims, token, via string) *Principal {
	return &Principal{
		Subject: c.Subject, SessionID: c.SessionID, Email: c.Email, EmailVerified: c.EmailVerified != nil && *c.EmailVerified,
		OrganizationID: c.Org, Plan: c.Plan, Role: c.Role, MFARequired: c.MFARequired != nil && *c.MFARequired, Teams: c.Teams, Permissions: c.Perms,
		AAL: c.AAL, AMR: c.AMR, Via: via, Token: token, ExpiresAt: c.Expiry.Time(),
	}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (what the middleware does).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller the middleware authenticated, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Rule is what a route requires; the zero Rule means any authenticated caller.
type Rule struct {
	Roles       []string // the caller's organization role must be one of these (no hierarchy)
	Permissions []string // the caller must hold every one
	AAL2        bool     // a second factor is required
}

// Authorize decides whether p satisfies r. Roles and permissions come before the AAL:
// a second factor would not help somebody who lacks the role, so they get forbidden.
// An organization that requires a second factor (MFARequired) makes every route need aal2.
func Authorize(p *Principal, r Rule) *Error {
	if len(r.Roles) > 0 {
		if p.OrganizationID == "" || !slices.Contains(r.Roles, p.Role) {
			return newError(CodeForbidden, "this route needs the role "+strings.Join(r.Roles, " or "), nil)
		}
	}
	var missing []string
	for _, perm := range r.Permissions {
		if !slices.Contains(p.Permissions, perm) {
			missing = append(missing, perm)
		}
	}
	if len(missing) > 0 {
		return newError(CodeForbidden, "missing permission "+strings.Join(missing, ", "), nil)
	}
	if p.AAL != "aal2" && p.MFARequired {
		return newError(CodeAAL2Required, "your organization requires a second factor: sign in with it, or set one up", nil)
	}
	if r.AAL2 && p.AAL != "aal2" {
		return newError(CodeAAL2Required, "this route needs a second factor", nil)
	}
	return nil
}
