package genesys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func newFakeClock() *app.ManualClock {
	return app.NewManualClock(time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC))
}

// fakeQueue is one queue of the fake organisation.
type fakeQueue struct {
	ID, Name string
	// Targets is the queue's mediaSettings service level per directory
	// key (call, callback, chat, email, message). Genesys Cloud lists all
	// five on every queue; a new queue gets 80 % in 20 s on each.
	Targets map[string]fakeTarget
	// Media lists the media types (analytics' words: voice, chat…) the
	// observations answer reports for the queue, zero counts included,
	// as Genesys Cloud does. Nil: none (only the queue-wide group).
	Media []string
	// Waiting holds, per media type, when each waiting conversation
	// entered the queue.
	Waiting map[string][]time.Time
	Agents  int
	Agg     map[string]fakeAgg
}

// fakeTarget is one mediaSettings serviceLevel as Genesys Cloud writes
// it: a fraction and milliseconds.
type fakeTarget struct {
	Percentage float64
	DurationMs int64
}

// creationDefault is the service level Genesys Cloud gives every media
// type of a new queue.
var creationDefault = fakeTarget{Percentage: 0.8, DurationMs: 20000}

// fakeTargets is what addQueues configures: an organisation that set its
// own chat and email targets and left call, callback and message at the
// creation default.
func fakeTargets() map[string]fakeTarget {
	return map[string]fakeTarget{
		"call":     creationDefault,
		"callback": creationDefault,
		"chat":     {Percentage: 0.85, DurationMs: 60000},
		"email":    {Percentage: 0.9, DurationMs: 8 * 3600 * 1000},
		"message":  creationDefault,
	}
}

// allMedia is every media group an observations answer may carry.
var allMedia = []string{"voice", "chat", "callback", "email", "message"}

// maxFakeObservations is how many waiting observations Genesys Cloud
// returns per group: beyond it the list is truncated to the oldest half
// and the newest half, with "truncated": true (ObservationMetricData).
const maxFakeObservations = 100

// fakeAgg is a (queue, media type)'s current-interval aggregates.
type fakeAgg struct{ Offered, Abandoned, SLNum, SLDen float64 }

// fakeCall is one request the fake received.
type fakeCall struct {
	Method, Path string
	Query        string
	Token        string
	Body         fakeQuery
}

// fakeQuery is an analytics query body as the fake decodes it.
type fakeQuery struct {
	Interval      string   `json:"interval"`
	GroupBy       []string `json:"groupBy"`
	Metrics       []string `json:"metrics"`
	DetailMetrics []string `json:"detailMetrics"`
	Filter        struct {
		Type       string `json:"type"`
		Predicates []struct {
			Dimension string `json:"dimension"`
			Value     string `json:"value"`
		} `json:"predicates"`
	} `json:"filter"`
}

func (q fakeQuery) queueIDs() []string {
	ids := make([]string, len(q.Filter.Predicates))
	for i, p := range q.Filter.Predicates {
		ids[i] = p.Value
	}
	return ids
}

// fakeFail is a scripted failure answer; Status 0 in a script answers
// normally, so that a failure can be aimed at a later call.
type fakeFail struct {
	Status     int
	RetryAfter string
	Body       string
}

// fakeGenesys speaks the Genesys Cloud API and login wire formats on one
// host, as ResolveRegion("http://127.0.0.1:PORT") expects.
type fakeGenesys struct {
	t     *testing.T
	srv   *httptest.Server
	clock *app.ManualClock

	mu        sync.Mutex
	clientID  string
	secret    string
	expiresIn int
	issued    int
	valid     map[string]bool
	queues    []*fakeQueue
	calls     []fakeCall
	script    map[string][]fakeFail // path → answers to give next, in order
	down      map[string]fakeFail   // path → answer to give every time
	raw       map[string][]byte     // path → verbatim response body
	// downIf, when set, fails every call it returns true for (a chunk
	// that keeps failing while the others answer).
	downIf   func(c fakeCall) (fakeFail, bool)
	omitDate bool
}

func newFakeGenesys(t *testing.T, clock *app.ManualClock) *fakeGenesys {
	t.Helper()
	f := &fakeGenesys{t: t, clock: clock, clientID: "client-id-1", secret: "s3cret-VALUE-xyz",
		expiresIn: 86400, valid: map[string]bool{}, script: map[string][]fakeFail{},
		down: map[string]fakeFail{}, raw: map[string][]byte{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a Client of the fake's organisation via ResolveRegion.
func (f *fakeGenesys) client(t *testing.T, log *slog.Logger) *Client {
	t.Helper()
	region, err := ResolveRegion(f.srv.URL)
	if err != nil {
		t.Fatalf("ResolveRegion(%q): %v", f.srv.URL, err)
	}
	return NewClient(region, f.clientID, f.secret, ClientOptions{Clock: f.clock, Logger: log})
}

func (f *fakeGenesys) addQueues(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, n)
	for i := range n {
		q := &fakeQueue{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(f.queues)), Name: fmt.Sprintf("Queue %d", len(f.queues)),
			Targets: fakeTargets(), Media: slices.Clone(allMedia), Agents: 3}
		f.queues = append(f.queues, q)
		ids[i] = q.ID
	}
	return ids
}

// failCall makes the nth next call to path (1 for the very next) answer
// fail; the calls before it answer normally.
func (f *fakeGenesys) failCall(path string, n int, fail fakeFail) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := make([]fakeFail, n-1, n)
	f.script[path] = append(s, fail)
}

func (f *fakeGenesys) queue(id string) *fakeQueue {
	for _, q := range f.queues {
		if q.ID == id {
			return q
		}
	}
	return nil
}

// edit changes the fake's state under its lock.
func (f *fakeGenesys) edit(fn func(f *fakeGenesys)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeGenesys) callsTo(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeGenesys) tokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func (f *fakeGenesys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.omitDate {
		w.Header()["Date"] = nil // suppresses net/http's own Date
	} else {
		w.Header().Set("Date", f.clock.Now().UTC().Format(http.TimeFormat))
	}
	c := fakeCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/") {
		if err := json.NewDecoder(r.Body).Decode(&c.Body); err != nil {
			f.t.Errorf("fake: %s body: %v", r.URL.Path, err)
		}
	}
	f.calls = append(f.calls, c)

	fail, ok := f.nextFail(r.URL.Path)
	if f.downIf != nil && (!ok || fail.Status == 0) {
		fail, ok = f.downIf(c)
	}
	if ok && fail.Status != 0 {
		if fail.RetryAfter != "" {
			w.Header().Set("Retry-After", fail.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail.Status)
		body := fail.Body
		if body == "" {
			body = fmt.Sprintf(`{"message":"scripted failure","code":"scripted","status":%d}`, fail.Status)
		}
		_, _ = w.Write([]byte(body))
		return
	}
	if r.URL.Path == "/oauth/token" {
		f.token(w, r)
		return
	}
	if !f.valid[c.Token] {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid login credentials.", "code": "bad.credentials", "status": 401})
		return
	}
	if b, ok := f.raw[r.URL.Path]; ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == pathQueues:
		f.routingQueues(w, r)
	case r.Method == http.MethodPost && r.URL.Path == pathObservations:
		f.observations(w, c.Body)
	case r.Method == http.MethodPost && r.URL.Path == pathAggregates:
		f.aggregates(w, c.Body)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "no such resource", "status": 404})
	}
}

func (f *fakeGenesys) nextFail(path string) (fakeFail, bool) {
	if s := f.script[path]; len(s) > 0 {
		f.script[path] = s[1:]
		return s[0], true
	}
	fail, ok := f.down[path]
	return fail, ok
}

func (f *fakeGenesys) token(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "description": "grant type not supported"})
		return
	}
	if user != f.clientID || pass != f.secret {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client", "description": "client not found", "error_description": "client not found"})
		return
	}
	f.issued++
	tok := fmt.Sprintf("tok-%d-%s", f.issued, base64.RawURLEncoding.EncodeToString([]byte("opaque")))
	f.valid[tok] = true
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": f.expiresIn})
}

func (f *fakeGenesys) routingQueues(w http.ResponseWriter, r *http.Request) {
	size, _ := strconv.Atoi(r.URL.Query().Get("pageSize"))
	page, _ := strconv.Atoi(r.URL.Query().Get("pageNumber"))
	if size <= 0 || page <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad paging", "status": 400})
		return
	}
	// name filters as Genesys Cloud does: any case, * as a wildcard
	// (here: a substring match when the name has one).
	queues := f.queues
	if name := r.URL.Query().Get("name"); name != "" {
		queues = nil
		want := strings.ToLower(strings.Trim(name, "*"))
		for _, q := range f.queues {
			got := strings.ToLower(q.Name)
			if got == want || (strings.Contains(name, "*") && strings.Contains(got, want)) {
				queues = append(queues, q)
			}
		}
	}
	entities := []map[string]any{}
	for i := (page - 1) * size; i < min(page*size, len(queues)); i++ {
		q := queues[i]
		settings := map[string]any{}
		for key, t := range q.Targets {
			settings[key] = map[string]any{"alertingTimeoutSeconds": 8, "enableAutoAnswer": false,
				"serviceLevel": map[string]any{"percentage": t.Percentage, "durationMs": t.DurationMs}}
		}
		entities = append(entities, map[string]any{
			"id": q.ID, "name": q.Name, "memberCount": q.Agents,
			"division":      map[string]any{"id": "e1d2c3b4-a5f6-4789-8abc-def012345678", "name": "Home"},
			"mediaSettings": settings,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entities": entities, "pageSize": size, "pageNumber": page,
		"total": len(queues), "pageCount": (len(queues) + size - 1) / size})
}

func (f *fakeGenesys) observations(w http.ResponseWriter, q fakeQuery) {
	if len(q.Filter.Predicates) > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "too many predicates", "status": 400})
		return
	}
	results := []map[string]any{}
	for _, id := range q.queueIDs() {
		fq := f.queue(id)
		if fq == nil {
			continue
		}
		results = append(results, map[string]any{
			"group": map[string]any{"queueId": id},
			"data": []map[string]any{
				{"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": map[string]any{"count": 1}},
				{"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": map[string]any{"count": fq.Agents - 1}},
			},
		})
		media := slices.Clone(fq.Media)
		for m := range fq.Waiting {
			if !slices.Contains(media, m) {
				media = append(media, m)
			}
		}
		for _, m := range media {
			results = append(results, map[string]any{
				"group": map[string]any{"queueId": id, "mediaType": m},
				"data": []map[string]any{
					waitingData(fq.Waiting[m]),
					{"metric": "oInteracting", "stats": map[string]any{"count": 0}},
				},
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"systemToOrganizationMappings": map[string]any{}, "results": results})
}

// waitingData is one group's oWaiting as Genesys Cloud answers it: the
// count of every waiting conversation, and their observations oldest
// first, truncated to the oldest and newest halves beyond 100.
func waitingData(since []time.Time) map[string]any {
	since = slices.SortedFunc(slices.Values(since), time.Time.Compare)
	truncated := len(since) > maxFakeObservations
	shown := since
	if truncated {
		half := maxFakeObservations / 2
		shown = append(slices.Clone(since[:half]), since[len(since)-half:]...)
	}
	obs := []map[string]any{}
	for i, t := range shown {
		obs = append(obs, map[string]any{"observationDate": t.UTC().Format("2006-01-02T15:04:05.000Z"),
			"conversationId": fmt.Sprintf("conv-%d", i), "routingPriority": 0, "direction": "inbound"})
	}
	d := map[string]any{"metric": "oWaiting", "stats": map[string]any{"count": len(since)}, "truncated": truncated}
	if len(since) > 0 {
		d["observations"] = obs
	}
	return d
}

func (f *fakeGenesys) aggregates(w http.ResponseWriter, q fakeQuery) {
	if len(q.Filter.Predicates) > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "too many predicates", "status": 400})
		return
	}
	results := []map[string]any{}
	for _, id := range q.queueIDs() {
		fq := f.queue(id)
		if fq == nil {
			continue
		}
		for media, a := range fq.Agg {
			metrics := []map[string]any{
				{"metric": "nOffered", "stats": map[string]any{"count": a.Offered}},
				{"metric": "tAbandon", "stats": map[string]any{"count": a.Abandoned, "sum": a.Abandoned * 30000}},
			}
			if a.SLDen > 0 {
				metrics = append(metrics, map[string]any{"metric": "oServiceLevel", "stats": map[string]any{
					"ratio": a.SLNum / a.SLDen, "numerator": a.SLNum, "denominator": a.SLDen, "target": 0.8}})
			}
			results = append(results, map[string]any{
				"group": map[string]any{"queueId": id, "mediaType": media},
				"data":  []map[string]any{{"interval": q.Interval, "metrics": metrics}},
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"systemToOrganizationMappings": map[string]any{}, "results": results})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// logBuffer collects log output from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// debugLogger logs everything, so tests see all that could leak.
func debugLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
