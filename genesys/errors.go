package genesys

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// RequiredPermissions is what the Genesys Cloud OAuth client's role must
// grant, worded for the README and for `slabot setup`.
const RequiredPermissions = `Create an OAuth client (Admin > Integrations > OAuth) with the Client Credentials grant and a role that has:
  - routing:queue:view                    (Routing > Queue > View: queue names and service-level targets)
  - analytics:queueObservation:view       (Analytics > Queue Observation > View: waiting, longest wait, agents on queue)
  - analytics:conversationAggregate:view  (Analytics > Conversation Aggregate > View: service level, abandon rate)
Set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET to its credentials and GENESYS_REGION to the organisation's region.`

// The permission each endpoint needs, named in errors when it answers 403.
const (
	permQueueView       = "routing:queue:view"
	permObservationView = "analytics:queueObservation:view"
	permAggregateView   = "analytics:conversationAggregate:view"
)

// Sentinel errors; the concrete errors below wrap them so callers can test
// with errors.Is and still show the operator a specific fix.
var (
	// ErrBadCredentials means the login host rejected the client id/secret.
	ErrBadCredentials = errors.New("genesys: client credentials rejected")
	// ErrForbidden means the OAuth client's role lacks a permission.
	ErrForbidden = errors.New("genesys: permission denied")
	// ErrRateLimited means Genesys Cloud answered 429 and the client is
	// waiting out its Retry-After before calling again.
	ErrRateLimited = errors.New("genesys: rate limited")
	// ErrUnauthorized means a freshly issued token was refused (401).
	ErrUnauthorized = errors.New("genesys: token refused")
)

// fixCredentials tells the operator what to change after ErrBadCredentials.
const fixCredentials = "check GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET (OAuth client with Client Credentials grant) and that GENESYS_REGION is the organisation's region"

// CredentialsError is a rejected client-credentials grant.
type CredentialsError struct {
	// Code and Description are the OAuth error the login host returned.
	Code        string
	Description string
}

func (e *CredentialsError) Error() string {
	s := "genesys: client credentials rejected"
	if e.Code != "" {
		s += " (" + e.Code
		if e.Description != "" {
			s += ": " + e.Description
		}
		s += ")"
	}
	return s + ": " + fixCredentials
}

// Is makes errors.Is(err, ErrBadCredentials) true.
func (e *CredentialsError) Is(target error) bool { return target == ErrBadCredentials }

// PermissionError is a 403: the OAuth client's role lacks Missing.
type PermissionError struct {
	Missing []string
	// Message is Genesys Cloud's own explanation, when it gave one.
	Message string
}

func (e *PermissionError) Error() string {
	s := "genesys: permission denied: give the OAuth client's role " + strings.Join(e.Missing, ", ")
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *PermissionError) Is(target error) bool { return target == ErrForbidden }

// RateLimitError says the client refuses calls until Until, as Genesys
// Cloud's 429 Retry-After asked.
type RateLimitError struct {
	Until time.Time
}

func (e *RateLimitError) Error() string {
	return "genesys: rate limited (429); not calling again until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// StatusError is any other non-2xx answer. Retryable is false for answers
// that will not change by themselves (400, 404).
type StatusError struct {
	Op      string // method and path, never the host or query
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("genesys: %s: HTTP %d", e.Op, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Retryable reports whether trying again later can succeed.
func (e *StatusError) Retryable() bool { return e.Status >= 500 || e.Status == 408 }

// shorten bounds remote-supplied text placed in errors and logs.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
