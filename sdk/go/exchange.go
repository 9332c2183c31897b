package gatehouse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

const maxAnswerBytes = 64 * 1024

// A cached token is dropped this long before it expires, so what is forwarded
// upstream still has life left.
const forwardMargin = 30 * time.Second

type cachedPrincipal struct {
	principal *Principal
	until     time.Time
}

// exchangeCredential turns a Kratos session or an API key into a principal through
// the auth-service's POST /v1/token: cached per credential, and one call per
// credential however many requests carry it at once.
func (g *Guard) exchangeCredential(ctx context.Context, c Credential, clientAddress string) (*Principal, error) {
	sum := sha256.Sum256([]byte(credentialKind(c) + ":" + c.Value)) // never the credential itself as a key
	key := hex.EncodeToString(sum[:])
	if hit, ok := g.sessions.Get(key); ok && g.cfg.Now().Before(hit.until) {
		return hit.principal, nil
	}
	v, err, _ := g.flight.Do(key, func() (any, error) {
		// Detached: the exchange is shared by every waiting request, not owned by the first.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.Timeout)
		defer cancel()
		token, err := g.callTokenEndpoint(cctx, c, clientAddress)
		if err != nil {
			return nil, err
		}
		claims, err := g.Verify(cctx, token)
		if err != nil {
			// The auth-service just issued it: if it does not verify, issuer, audience or
			// keys are misconfigured. Not the user's fault, so not a 401.
			return nil, g.unavailable("the auth-service issued a token this guard rejects", 0, err)
		}
		p := principalFrom(claims, token, c.Kind)
		until := claims.Expiry.Time().Add(-forwardMargin)
		if limit := g.cfg.Now().Add(g.cfg.SessionCacheTTL); limit.Before(until) {
			until = limit
		}
		if g.cfg.SessionCacheTTL > 0 {
			g.sessions.Add(key, cachedPrincipal{principal: p, until: until})
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Principal), nil
}

func credentialKind(c Credential) string {
	if c.Kind == "session" && c.Cookie {
		return "cookie"
	}
	if c.Kind == "session" {
		return "token"
	}
	return c.Kind
}

func (g *Guard) unavailable(message string, retryAfter int, cause error) *Error {
	e := newError(CodeDependencyUnavailable, message, cause)
	e.RetryAfter = retryAfter
	if e.RetryAfter <= 0 {
		e.RetryAfter = int(g.cfg.RetryAfter / time.Second)
	}
	return e
}

// callTokenEndpoint sorts every answer into "the credential is bad" (401), "not
// allowed" (403) and "we could not find out" (429/503). Only the first may ever read
// as signed out: a 5xx, a timeout or a refused connection never logs anybody out.
func (g *Guard) callTokenEndpoint(ctx context.Context, c Credential, clientAddress string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.AuthServiceURL+"/v1/token", bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", g.unavailable("the token request cannot be built", 0, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	switch {
	case c.Kind == "api_key":
		req.Header.Set("Authorization", "Bearer "+c.Value)
	case c.Cookie: // only the Kratos cookie is forwarded, never the browser's others
		req.Header.Set("Cookie", g.cfg.CookieName+"="+c.Value)
	default:
		req.Header.Set("X-Session-Token", c.Value)
	}
	if clientAddress != "" { // the auth-service's rate limits count the end client, not this service
		req.Header.Set("X-Forwarded-For", clientAddress)
	}
	res, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", g.unavailable("the auth-service cannot be reached", 0, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		return "", g.unavailable("the auth-service's answer was cut short", 0, err)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_ = json.Unmarshal(body, &answer) // a proxy's HTML error page: the status says enough
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	switch {
	case res.StatusCode == 200 && answer.AccessToken != "":
		return answer.AccessToken, nil
	case res.StatusCode == 200:
		return "", g.unavailable("the auth-service answered 200 without a token", 0, nil)
	case res.StatusCode == 401 && c.Kind == "api_key":
		return "", newError(CodeInvalidAPIKey, "the API key is not valid", nil)
	case res.StatusCode == 401:
		return "", newError(CodeUnauthenticated, "the session is not valid (or no longer)", nil)
	case res.StatusCode == 403 && answer.Error == "aal2_required":
		return "", newError(CodeAAL2Required, "this session needs a second factor", nil)
	case res.StatusCode == 403 && answer.Error == "forbidden":
		return "", newError(CodeForbidden, "not a member of the requested organization", nil)
	case res.StatusCode == 403 && answer.Error == "user_deactivated":
		// Another service deactivated the person: a verdict, not an outage.
		return "", newError(CodeForbidden, "this account is deactivated", nil)
	case res.StatusCode == 429:
		e := newError(CodeRateLimited, "the auth-service is rate limiting; retry later", nil)
		e.RetryAfter = retry
		if retry <= 0 {
			e.RetryAfter = int(g.cfg.RetryAfter / time.Second)
		}
		return "", e
	}
	// 5xx, and 3xx/400/404 (a misconfiguration between this service and the
	// auth-service, not a verdict on the user): an outage.
	return "", g.unavailable(fmt.Sprintf("the auth-service answered %d", res.StatusCode), retry, errors.New(answer.Error))
}
