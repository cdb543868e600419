package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook authentication headers (DESIGN §2.1).
const (
	headerSignature = "X-Genesys-Cloud-Signature"
	headerTimestamp = "X-Slabot-Timestamp"
	headerToken     = "X-Slabot-Token"
	// signatureWindow is how far a signed timestamp may be from now,
	// either way: a captured request is refused once it is older.
	signatureWindow = 5 * time.Minute
)

const authFailed = "authentication failed: send X-Genesys-Cloud-Signature, Authorization or X-Slabot-Token"

// authVerdict is what the headers alone say about a webhook request.
type authVerdict int

const (
	authRefused  authVerdict = iota // 401 without reading the body
	authPassed                      // a token matched, or the webhook is open
	authNeedBody                    // only the body's signature can tell
)

// checkHeaders decides what it can before the body is read, so that a
// request with a wrong token, or with no credential at all, costs no body
// read. It returns authNeedBody only when a signature header is present
// (and, when sent, its timestamp is inside the window): HMAC covers the
// body. msg says why a request is refused, without echoing what was sent.
func (a WebhookAuth) checkHeaders(r *http.Request, now time.Time) (authVerdict, string) {
	if a.Secret == "" && a.Token == "" {
		if a.AllowUnsigned {
			return authPassed, ""
		}
		return authRefused, "webhook closed: set GENESYS_WEBHOOK_TOKEN or GENESYS_WEBHOOK_SECRET to open it"
	}
	if a.Token != "" {
		for _, cand := range presentedTokens(r) {
			if subtle.ConstantTimeCompare([]byte(cand), []byte(a.Token)) == 1 {
				return authPassed, ""
			}
		}
	}
	if a.Secret == "" || r.Header.Get(headerSignature) == "" {
		return authRefused, authFailed
	}
	ts := r.Header.Get(headerTimestamp)
	if ts == "" {
		if a.RequireTimestamp {
			return authRefused, "authentication failed: send X-Slabot-Timestamp and sign <timestamp>.<body>"
		}
		return authNeedBody, ""
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authRefused, "authentication failed: X-Slabot-Timestamp is not Unix seconds"
	}
	if d := now.Sub(time.Unix(sec, 0)); d > signatureWindow || d < -signatureWindow {
		return authRefused, "authentication failed: X-Slabot-Timestamp is more than 5 minutes from now (a replay, or the sender's clock is off)"
	}
	return authNeedBody, ""
}

// checkSignature verifies the HMAC of a request checkHeaders left to the
// body: over the body as sent, or over "<timestamp>.<body>" when the
// request carries X-Slabot-Timestamp.
func (a WebhookAuth) checkSignature(r *http.Request, body []byte) bool {
	sig, ok := strings.CutPrefix(r.Header.Get(headerSignature), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(a.Secret))
	if ts := r.Header.Get(headerTimestamp); ts != "" {
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
	}
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// presentedTokens returns the tokens a request offers: a Bearer token, an
// X-Slabot-Token header, a Basic password. Authentication schemes are
// case-insensitive (RFC 9110 §11.1).
func presentedTokens(r *http.Request) []string {
	var out []string
	if scheme, t, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		out = append(out, strings.TrimSpace(t))
	}
	if t := r.Header.Get(headerToken); t != "" {
		out = append(out, t)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		out = append(out, pass)
	}
	return out
}
