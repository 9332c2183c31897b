package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

const maxJWKSBytes = 256 * 1024

// keySet holds the auth-service's public keys by kid. It refetches when the set is
// older than maxAge, and on an unknown kid (a rotation) at most once per floor, so a
// flood of made-up kids cannot turn into a flood of fetches. Concurrent fetches share one.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	floor   time.Duration
	maxAge  time.Duration
	now     func() time.Time
	flight  singleflight.Group

	mu        sync.RWMutex
	keys      map[string]jose.JSONWebKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
}

// staticKeySet never fetches: for tests and for keys known in advance.
func staticKeySet(set jose.JSONWebKeySet, now func() time.Time) *keySet {
	ks := &keySet{keys: indexKeys(set), now: now, floor: time.Duration(1<<63 - 1), maxAge: time.Duration(1<<63 - 1)}
	ks.fetchedAt, ks.triedAt = now(), now()
	return ks
}

func indexKeys(set jose.JSONWebKeySet) map[string]jose.JSONWebKey {
	keys := map[string]jose.JSONWebKey{}
	dup := map[string]bool{}
	for _, k := range set.Keys {
		if k.KeyID == "" || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		// A kid listed twice: we cannot know which key the issuer meant.
		if _, seen := keys[k.KeyID]; seen || dup[k.KeyID] {
			delete(keys, k.KeyID)
			dup[k.KeyID] = true
			continue
		}
		keys[k.KeyID] = k
	}
	return keys
}

// get returns the key for kid, or a TokenError: token_key_unknown, or jwks_unavailable
// when no key set was ever fetched.
func (ks *keySet) get(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	ks.mu.RLock()
	key, ok := ks.keys[kid]
	have, fetched, tried := ks.keys != nil, ks.fetchedAt, ks.triedAt
	ks.mu.RUnlock()
	now := ks.now()
	stale := now.Sub(fetched) > ks.maxAge
	if ok && !stale {
		return key, nil
	}
	if !have || stale || now.Sub(tried) >= ks.floor {
		if err := ks.refresh(ctx); err != nil && !have {
			return key, tokenError(ReasonJWKSUnavailable, "the signing keys cannot be fetched", err)
		}
		ks.mu.RLock()
		key, ok = ks.keys[kid]
		ks.mu.RUnlock()
	}
	if !ok {
		return key, tokenError(ReasonKeyUnknown, "no published key has this kid", nil)
	}
	return key, nil
}

func (ks *keySet) refresh(ctx context.Context) error {
	// Detached from the caller's cancellation: the fetch is shared by every waiter.
	_, err, _ := ks.flight.Do("jwks", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ks.timeout)
		defer cancel()
		set, err := ks.fetch(fctx)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		ks.triedAt = ks.now()
		if err != nil {
			return nil, err // keep the keys we had: an outage must not sign everybody out
		}
		ks.keys, ks.fetchedAt = indexKeys(set), ks.triedAt
		return nil, nil
	})
	return err
}

func (ks *keySet) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return set, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := ks.client.Do(req)
	if err != nil {
		return set, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return set, fmt.Errorf("the JWKS answered %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return set, err
	}
	if len(body) > maxJWKSBytes {
		return set, errors.New("the JWKS is too large")
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return set, fmt.Errorf("the JWKS is not a key set: %w", err)
	}
	return set, nil
}
