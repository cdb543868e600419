package genesys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenRefreshBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	f.edit(func(f *fakeGenesys) { f.expiresIn = 120 })
	ids := f.addQueues(1)
	c := f.client(t, nil)
	ctx := context.Background()

	observe := func() string {
		t.Helper()
		if _, _, err := c.Observations(ctx, ids); err != nil {
			t.Fatalf("Observations: %v", err)
		}
		calls := f.callsTo(pathObservations)
		return calls[len(calls)-1].Token
	}
	first := observe()
	clock.Advance(59 * time.Second)
	if got := observe(); got != first {
		t.Errorf("token changed after 59s of 120s: got %q, want %q", got, first)
	}
	clock.Advance(2 * time.Second) // 61s: within the last minute of the token's life
	second := observe()
	if second == first {
		t.Errorf("token not refreshed 61s into a 120s token")
	}
	if got, want := f.tokensIssued(), 2; got != want {
		t.Errorf("tokens issued = %d, want %d", got, want)
	}
	if got, want := len(f.callsTo(pathObservations)), 3; got != want {
		t.Errorf("observation calls = %d, want %d (no 401 round trips)", got, want)
	}
}

func TestTokenRefreshAfter401(t *testing.T) {
	t.Run("revoked token: one new token, one retry", func(t *testing.T) {
		f := newFakeGenesys(t, newFakeClock())
		ids := f.addQueues(1)
		c := f.client(t, nil)
		ctx := context.Background()
		if _, _, err := c.Observations(ctx, ids); err != nil {
			t.Fatalf("Observations: %v", err)
		}
		f.edit(func(f *fakeGenesys) { clear(f.valid) }) // token revoked server-side
		events, _, err := c.Observations(ctx, ids)
		if err != nil {
			t.Fatalf("Observations after revocation: %v", err)
		}
		if len(events) != 1 {
			t.Errorf("events = %d, want 1", len(events))
		}
		if got, want := f.tokensIssued(), 2; got != want {
			t.Errorf("tokens issued = %d, want %d", got, want)
		}
		if got, want := len(f.callsTo(pathObservations)), 3; got != want {
			t.Errorf("observation calls = %d, want %d", got, want)
		}
	})
	t.Run("persistent 401: exactly one retry", func(t *testing.T) {
		f := newFakeGenesys(t, newFakeClock())
		ids := f.addQueues(1)
		f.edit(func(f *fakeGenesys) { f.down[pathObservations] = fakeFail{Status: http.StatusUnauthorized} })
		c := f.client(t, nil)
		_, _, err := c.Observations(context.Background(), ids)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		if got, want := len(f.callsTo(pathObservations)), 2; got != want {
			t.Errorf("observation calls = %d, want %d", got, want)
		}
		if got, want := f.tokensIssued(), 2; got != want {
			t.Errorf("tokens issued = %d, want %d", got, want)
		}
	})
}

func TestRateLimitRetryAfter(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(1)
	f.edit(func(f *fakeGenesys) {
		f.script[pathObservations] = []fakeFail{{Status: http.StatusTooManyRequests, RetryAfter: "30"}}
	})
	c := f.client(t, nil)
	ctx := context.Background()

	_, _, err := c.Observations(ctx, ids)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	if got, want := rl.Until, clock.Now().Add(30*time.Second); !got.Equal(want) {
		t.Errorf("Until = %v, want %v", got, want)
	}

	clock.Advance(29 * time.Second)
	_, _, err = c.Observations(ctx, ids)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("call 29s after Retry-After: 30: err = %v, want ErrRateLimited", err)
	}
	if !strings.Contains(err.Error(), "not calling again until") {
		t.Errorf("error %q does not say the client is waiting", err)
	}
	_, err = c.Queues(ctx)
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("Queues during Retry-After: err = %v, want ErrRateLimited", err)
	}
	if got, want := len(f.callsTo(pathObservations))+len(f.callsTo(pathQueues)), 1; got != want {
		t.Errorf("requests sent = %d, want %d (nothing during Retry-After)", got, want)
	}

	clock.Advance(time.Second)
	if _, _, err := c.Observations(ctx, ids); err != nil {
		t.Fatalf("call after Retry-After: %v", err)
	}
	if got, want := len(f.callsTo(pathObservations)), 2; got != want {
		t.Errorf("observation calls = %d, want %d", got, want)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"7", 7 * time.Second},
		{"0", time.Second},
		{"", defaultRetryAfter},
		{"soon", defaultRetryAfter},
		{"86400", maxRetryAfter},
		{now.Add(45 * time.Second).Format(http.TimeFormat), 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := retryAfter(tt.in, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	f := newFakeGenesys(t, newFakeClock())
	f.addQueues(1)
	region, err := ResolveRegion(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(region, f.clientID, "wrong-secret", ClientOptions{Clock: f.clock})
	_, err = c.Check(context.Background())
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	for _, want := range []string{"GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET", "Client Credentials", "invalid_client"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := len(f.callsTo(pathQueues)); got != 0 {
		t.Errorf("queue calls = %d without a token, want 0", got)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name        string
		down        []string
		wantMissing []string
		wantQueues  int
	}{
		{name: "all permissions", wantQueues: 3},
		{name: "no queue view", down: []string{pathQueues}, wantMissing: []string{permQueueView}},
		{name: "no analytics", down: []string{pathObservations, pathAggregates},
			wantMissing: []string{permObservationView, permAggregateView}, wantQueues: 3},
		{name: "no aggregates", down: []string{pathAggregates}, wantMissing: []string{permAggregateView}, wantQueues: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGenesys(t, newFakeClock())
			f.addQueues(3)
			f.edit(func(f *fakeGenesys) {
				for _, p := range tt.down {
					f.down[p] = fakeFail{Status: http.StatusForbidden,
						Body: `{"message":"Unable to perform the requested action. You are missing the following permission(s): [x]","code":"missing.any.permissions","status":403}`}
				}
			})
			queues, err := f.client(t, nil).Check(context.Background())
			if got := len(queues); got != tt.wantQueues {
				t.Errorf("queues = %d, want %d", got, tt.wantQueues)
			}
			if tt.wantMissing == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var pe *PermissionError
			if !errors.As(err, &pe) || !errors.Is(err, ErrForbidden) {
				t.Fatalf("err = %v, want a PermissionError", err)
			}
			if got, want := strings.Join(pe.Missing, ","), strings.Join(tt.wantMissing, ","); got != want {
				t.Errorf("missing = %s, want %s", got, want)
			}
			for _, perm := range tt.wantMissing {
				if !strings.Contains(err.Error(), perm) {
					t.Errorf("error %q does not name %s", err, perm)
				}
			}
		})
	}
	t.Run("no queues visible", func(t *testing.T) {
		f := newFakeGenesys(t, newFakeClock())
		_, err := f.client(t, nil).Check(context.Background())
		if !errors.Is(err, ErrNoQueues) {
			t.Errorf("err = %v, want ErrNoQueues", err)
		}
	})
}

func TestServerErrorIsStatusError(t *testing.T) {
	f := newFakeGenesys(t, newFakeClock())
	ids := f.addQueues(1)
	f.edit(func(f *fakeGenesys) { f.down[pathObservations] = fakeFail{Status: http.StatusServiceUnavailable} })
	_, _, err := f.client(t, nil).Observations(context.Background(), ids)
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a StatusError", err)
	}
	if se.Status != http.StatusServiceUnavailable || !se.Retryable() {
		t.Errorf("StatusError = %+v, retryable %v; want 503, retryable", se, se.Retryable())
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error %q names the host", err)
	}
}

func TestPerCallTimeout(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(1)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			f.ServeHTTP(w, r)
			return
		}
		// Never answer; the client must give up. (The server notices the
		// client hanging up only once the body is read.)
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(stall.Close)
	region, err := ResolveRegion(stall.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(region, f.clientID, f.secret, ClientOptions{Clock: clock, Timeout: 50 * time.Millisecond})
	_, _, err = c.Observations(context.Background(), ids)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestIgnoresSDKConfigFile guards against the SDK's home-directory config
// (which may redirect the host) ever affecting the client.
func TestIgnoresSDKConfigFile(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".genesyscloudgo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[general]\nhost = http://127.0.0.1:1\nlive_reload_config = true\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	f := newFakeGenesys(t, newFakeClock())
	ids := f.addQueues(1)
	if _, _, err := f.client(t, nil).Observations(context.Background(), ids); err != nil {
		t.Fatalf("Observations with an SDK config file present: %v", err)
	}
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(2)
	var logs logBuffer
	log := debugLogger(&logs)
	c := f.client(t, log)
	ctx := context.Background()
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}

	_, _, err := c.Observations(ctx, ids)
	note(err)
	f.edit(func(f *fakeGenesys) { clear(f.valid) })
	_, err = c.ServiceLevels(ctx, ids, clock.Now())
	note(err)
	f.edit(func(f *fakeGenesys) {
		f.script[pathQueues] = []fakeFail{{Status: http.StatusTooManyRequests, RetryAfter: "5"}}
	})
	_, err = c.Queues(ctx)
	note(err)
	clock.Advance(6 * time.Second)
	f.edit(func(f *fakeGenesys) { f.down[pathObservations] = fakeFail{Status: http.StatusForbidden} })
	_, _, err = c.Observations(ctx, ids)
	note(err)
	bad := NewClient(c.Region(), f.clientID, f.secret+"-rotated", ClientOptions{Clock: clock, Logger: log})
	_, err = bad.Check(ctx)
	note(err)
	// A poller cycle that fails logs its error too.
	p := NewPoller(c, PollerDeps{Ingester: &recorder{}, Directory: newMemStore(clock), Lease: newMemStore(clock), Announcer: &announcer{}},
		PollerOptions{Clock: clock, Logger: log, Queues: []string{"Queue 0"}})
	note(p.Cycle(ctx))

	printed := fmt.Sprintf("%v %+v %#v %s", c, c, c, c)
	if got := f.tokensIssued(); got < 2 {
		t.Fatalf("tokens issued = %d; the test should exercise a refresh", got)
	}
	var secrets []string
	f.edit(func(f *fakeGenesys) {
		secrets = append(secrets, f.secret)
		for tok := range f.valid {
			secrets = append(secrets, tok)
		}
		for _, call := range f.calls {
			if call.Token != "" {
				secrets = append(secrets, call.Token)
			}
		}
	})
	out := logs.String() + "\n" + strings.Join(errs, "\n") + "\n" + printed
	if !strings.Contains(logs.String(), "genesys") {
		t.Fatalf("nothing was logged; the test would pass vacuously")
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("output contains secret or token %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("output contains part of the client secret:\n%s", out)
	}
}
