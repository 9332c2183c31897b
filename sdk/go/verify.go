package gatehouse

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Far above any token the auth-service mints; refuses to decode megabytes.
const maxTokenLength = 16 * 1024

// Never trust key material or key locations carried by the token itself; and since
// no extension is implemented, "crit" can only mean a token we would misunderstand.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit"}

// TeamMembership is one entry of the `teams` claim.
type TeamMembership struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Claims of a Gatehouse access token (claims version 1).
type Claims struct {
	jwt.Claims
	SessionID     string           `json:"sid"`
	Version       int              `json:"ver"`
	Email         string           `json:"email,omitempty"`
	EmailVerified *bool            `json:"email_verified,omitempty"`
	Org           string           `json:"org,omitempty"`
	Plan          string           `json:"plan,omitempty"`
	Role          string           `json:"role,omitempty"`
	MFARequired   *bool            `json:"mfa_required,omitempty"` // the organization requires aal2
	Teams         []TeamMembership `json:"teams"`
	Perms         []string         `json:"perms"`
	AAL           string           `json:"aal"`
	AMR           []string         `json:"amr"`
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ any    `json:"typ"`
}

// checkHeader runs before any key lookup or crypto, so hostile headers cost nothing.
func (g *Guard) checkHeader(token string) (header, error) {
	var h header
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, tokenError(ReasonMalformed, "token must be a compact JWS", nil)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	var fields map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &fields)
	}
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		return h, tokenError(ReasonMalformed, "token header is not valid base64url JSON", err)
	}
	if !slices.Contains(g.cfg.Algorithms, h.Alg) {
		return h, tokenError(ReasonAlgNotAllowed, "alg "+quote(h.Alg)+" is not allowed", nil)
	}
	for _, name := range forbiddenHeaders {
		if _, ok := fields[name]; ok {
			return h, tokenError(ReasonHeaderForbidden, `token header must not carry "`+name+`"`, nil)
		}
	}
	typ, _ := h.Typ.(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	if typ != "at+jwt" {
		return h, tokenError(ReasonTypeInvalid, "typ must be at+jwt", nil)
	}
	if h.Kid == "" {
		return h, tokenError(ReasonKeyUnknown, "token has no kid", nil)
	}
	return h, nil
}

// Verify checks a Gatehouse access token's header, signature and claims. It returns
// the claims or a *TokenError; Reason jwks_unavailable means an outage, not a bad token.
func (g *Guard) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" || len(token) > maxTokenLength {
		return nil, tokenError(ReasonMalformed, "token must be a compact JWS string", nil)
	}
	h, err := g.checkHeader(token)
	if err != nil {
		return nil, err
	}
	key, err := g.keys.get(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, tokenError(ReasonAlgNotAllowed, "the key for this kid is not for alg "+quote(h.Alg), nil)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil {
		return nil, tokenError(ReasonMalformed, "token is malformed", err)
	}
	var claims Claims
	if err := parsed.Claims(key.Key, &claims); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, tokenError(ReasonMalformed, "token payload is not JSON", err)
		}
		return nil, tokenError(ReasonSignatureInvalid, "token signature is invalid", err)
	}
	expected := jwt.Expected{Issuer: g.cfg.Issuer, AnyAudience: g.cfg.Audience, Time: g.cfg.Now()}
	if err := claims.ValidateWithLeeway(expected, g.cfg.Leeway); err != nil {
		return nil, claimError(err)
	}
	if err := claims.check(); err != nil {
		return nil, err
	}
	return &claims, nil
}

func claimError(err error) *TokenError {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return tokenError(ReasonExpired, "token has expired", err)
	case errors.Is(err, jwt.ErrNotValidYet):
		return tokenError(ReasonNotYetValid, "token is not valid yet", err)
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return tokenError(ReasonIssuerInvalid, "token issuer is not accepted", err)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return tokenError(ReasonAudienceInvalid, "token audience is not accepted", err)
	}
	return tokenError(ReasonClaimsInvalid, "token claims are invalid", err)
}

var (
	orgRoles  = []string{"owner", "admin", "member"}
	teamRoles = []string{"lead", "member"}
	plans     = []string{"starter", "pro", "enterprise"}
)

// check is the claims schema (version 1) beyond what jwt.Claims validates.
func (c *Claims) check() error {
	bad := func(claim, detail string) error {
		return tokenError(ReasonClaimsInvalid, `claim "`+claim+`" `+detail, nil)
	}
	switch {
	case c.Version != 1:
		return bad("ver", "must be 1 (this build understands claims version 1)")
	case c.Subject == "" || c.SessionID == "" || c.ID == "":
		return bad("sub/sid/jti", "must be non-empty strings")
	case c.Expiry == nil || c.IssuedAt == nil || c.NotBefore == nil:
		return bad("exp/iat/nbf", "are required")
	case c.AAL != "aal1" && c.AAL != "aal2":
		return bad("aal", "must be aal1 or aal2")
	case c.Perms == nil || c.Teams == nil || c.AMR == nil:
		return bad("perms/teams/amr", "must be arrays")
	case c.Org == "" && (c.Role != "" || c.Plan != ""):
		return bad("role/plan", "require org")
	case c.MFARequired != nil && (!*c.MFARequired || c.Org == ""):
		return bad("mfa_required", "must be true, and only with org")
	case c.Role != "" && !slices.Contains(orgRoles, c.Role):
		return bad("role", "must be one of owner, admin, member")
	case c.Plan != "" && !slices.Contains(plans, c.Plan):
		return bad("plan", "must be one of starter, pro, enterprise")
	}
	for _, t := range c.Teams {
		if t.ID == "" || !slices.Contains(teamRoles, t.Role) {
			return bad("teams", "entries must be {id, role: lead|member}")
		}
	}
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
