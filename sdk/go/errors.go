package gatehouse

import (
	"errors"
	"fmt"
)

// Reason says why a token was refused; the values are @gatehouse/tokens' TokenError
// codes, so the three SDKs report the same reason for the same token.
type Reason string

const (
	ReasonMalformed        Reason = "token_malformed"
	ReasonExpired          Reason = "token_expired"
	ReasonNotYetValid      Reason = "token_not_yet_valid"
	ReasonSignatureInvalid Reason = "token_signature_invalid"
	ReasonAlgNotAllowed    Reason = "token_alg_not_allowed"
	ReasonTypeInvalid      Reason = "token_type_invalid"
	ReasonClaimsInvalid    Reason = "token_claims_invalid"
	ReasonIssuerInvalid    Reason = "token_issuer_invalid"
	ReasonAudienceInvalid  Reason = "token_audience_invalid"
	ReasonKeyUnknown       Reason = "token_key_unknown"
	ReasonHeaderForbidden  Reason = "token_header_forbidden"
	// The key set could not be fetched and none was ever cached: an outage, not a bad token.
	ReasonJWKSUnavailable Reason = "jwks_unavailable"
)

// TokenError is what Verify returns for any token it refuses.
type TokenError struct {
	Reason  Reason
	Message string
	cause   error
}

func (e *TokenError) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }
func (e *TokenError) Unwrap() error { return e.cause }

func tokenError(reason Reason, message string, cause error) *TokenError {
	return &TokenError{Reason: reason, Message: message, cause: cause}
}

// Code is the `error` of a refusal's JSON body: the Node guard's codes.
type Code string

const (
	CodeUnauthenticated       Code = "unauthenticated"        // 401
	CodeInvalidToken          Code = "invalid_token"          // 401
	CodeInvalidAPIKey         Code = "invalid_api_key"        // 401
	CodeAmbiguous             Code = "ambiguous_credentials"  // 400
	CodeForbidden             Code = "forbidden"              // 403
	CodeAAL2Required          Code = "aal2_required"          // 403
	CodeRateLimited           Code = "rate_limited"           // 429
	CodeDependencyUnavailable Code = "dependency_unavailable" // 503
)

// Error is a refusal: the status, code and message sent to the client, and for 429
// and 503 when to retry. Messages never carry credentials.
type Error struct {
	Status     int
	Code       Code
	Message    string
	RetryAfter int // seconds; set on 429 and 503
	cause      error
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }
func (e *Error) Unwrap() error { return e.cause }

var statusOf = map[Code]int{
	CodeUnauthenticated: 401, CodeInvalidToken: 401, CodeInvalidAPIKey: 401, CodeAmbiguous: 400,
	CodeForbidden: 403, CodeAAL2Required: 403, CodeRateLimited: 429, CodeDependencyUnavailable: 503,
}

func newError(code Code, message string, cause error) *Error {
	return &Error{Status: statusOf[code], Code: code, Message: message, cause: cause}
}

// AsError turns anything the guard returns into an *Error (an unknown error is an outage, never a 401).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return newError(CodeDependencyUnavailable, "authentication could not be completed", err)
}
