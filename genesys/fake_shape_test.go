package genesys

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// fakeRaw sends one request to the fake with a fresh token and decodes the
// JSON answer, so that shapes are checked as the wire has them, not as the
// Client reads them.
func fakeRaw(t *testing.T, f *fakeGenesys, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	tokReq, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	tokReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tokReq.SetBasicAuth(f.clientID, f.secret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	resp, err := http.DefaultClient.Do(tokReq)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp, out
}

// TestFakeSpeaksLikeGenesys pins the fake's answers to what Genesys Cloud
// sends, so that tests built on it meet the shapes production meets: every
// media group in observations (idle ones at zero), truncated waiting lists
// beyond 100, mediaSettings for all five media types, and 429 with
// Retry-After when asked.
func TestFakeSpeaksLikeGenesys(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(2)
	now := clock.Now()
	f.edit(func(f *fakeGenesys) {
		var voice []time.Time
		for i := range 250 { // the oldest has waited 250 minutes
			voice = append(voice, now.Add(-time.Duration(250-i)*time.Minute))
		}
		f.queues[0].Waiting = map[string][]time.Time{"voice": voice, "email": {now.Add(-2 * time.Hour)}}
		f.queues[1].Targets["email"] = creationDefault
	})

	t.Run("directory lists five media types with their targets", func(t *testing.T) {
		_, page := fakeRaw(t, f, http.MethodGet, pathQueues+"?pageSize=100&pageNumber=1", "")
		entities, _ := page["entities"].([]any)
		if len(entities) != 2 {
			t.Fatalf("entities = %d, want 2", len(entities))
		}
		q0 := entities[0].(map[string]any)
		settings, _ := q0["mediaSettings"].(map[string]any)
		var keys []string
		targets := map[string]string{}
		for k, v := range settings {
			keys = append(keys, k)
			sl := v.(map[string]any)["serviceLevel"].(map[string]any)
			b, _ := json.Marshal(sl)
			targets[k] = string(b)
		}
		slices.Sort(keys)
		if want := []string{"call", "callback", "chat", "email", "message"}; !slices.Equal(keys, want) {
			t.Fatalf("mediaSettings keys = %v, want %v", keys, want)
		}
		if want := `{"durationMs":20000,"percentage":0.8}`; targets["call"] != want || targets["callback"] != want || targets["message"] != want {
			t.Errorf("call/callback/message targets = %s / %s / %s, want the creation default %s",
				targets["call"], targets["callback"], targets["message"], want)
		}
		if targets["chat"] == targets["call"] || targets["email"] == targets["call"] || targets["chat"] == targets["email"] {
			t.Errorf("chat %s and email %s targets should differ from each other and from call's", targets["chat"], targets["email"])
		}
		// The Client reads them into per-media targets.
		queues, err := f.client(t, nil).Queues(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := queues[0].Target(app.Email); !ok || !near(got.Percent, 90) || got.Within != 8*time.Hour {
			t.Errorf("Queue 0 email target = %v (%v), want 90 %% in 8h", got, ok)
		}
		if got, ok := queues[1].Target(app.Email); !ok || !got.CreationDefault() {
			t.Errorf("Queue 1 email target = %v (%v), want the creation default", got, ok)
		}
		if got, ok := queues[0].Target(app.Voice); !ok || !got.CreationDefault() {
			t.Errorf("Queue 0 voice target = %v (%v), want the creation default", got, ok)
		}
	})

	t.Run("observations carry every media group, truncated past 100", func(t *testing.T) {
		body := `{"filter":{"type":"or","predicates":[{"dimension":"queueId","value":"` + ids[0] +
			`"},{"dimension":"queueId","value":"` + ids[1] + `"}]},"metrics":["oWaiting","oInteracting","oOnQueueUsers"],"detailMetrics":["oWaiting"]}`
		_, answer := fakeRaw(t, f, http.MethodPost, pathObservations, body)
		type groupData struct {
			count     float64
			truncated bool
			dates     []string
		}
		got := map[string]groupData{} // "queue/media" → oWaiting
		for _, r := range answer["results"].([]any) {
			res := r.(map[string]any)
			g := res["group"].(map[string]any)
			media, _ := g["mediaType"].(string)
			for _, d := range res["data"].([]any) {
				dm := d.(map[string]any)
				if dm["metric"] != "oWaiting" {
					continue
				}
				gd := groupData{count: dm["stats"].(map[string]any)["count"].(float64)}
				gd.truncated, _ = dm["truncated"].(bool)
				obs, _ := dm["observations"].([]any)
				for _, o := range obs {
					gd.dates = append(gd.dates, o.(map[string]any)["observationDate"].(string))
				}
				got[g["queueId"].(string)+"/"+media] = gd
			}
		}
		for _, id := range ids {
			for _, m := range []string{"voice", "chat", "callback", "email", "message"} {
				if _, ok := got[id+"/"+m]; !ok {
					t.Errorf("no %s group for %s", m, id)
				}
			}
		}
		if len(got) != 10 {
			t.Errorf("oWaiting groups = %d, want 10 (2 queues × 5 media types)", len(got))
		}
		if idle := got[ids[1]+"/chat"]; idle.count != 0 || idle.truncated || len(idle.dates) != 0 {
			t.Errorf("idle chat group = %+v, want count 0 and no observations", idle)
		}
		voice := got[ids[0]+"/voice"]
		if voice.count != 250 || !voice.truncated || len(voice.dates) != 100 {
			t.Fatalf("voice group: count %v, truncated %v, %d observations; want 250, true, 100", voice.count, voice.truncated, len(voice.dates))
		}
		if !slices.IsSorted(voice.dates) {
			t.Errorf("observations are not oldest first")
		}
		oldest, newest := now.Add(-250*time.Minute).UTC().Format(isoMillis), now.Add(-time.Minute).UTC().Format(isoMillis)
		if voice.dates[0] != oldest || voice.dates[99] != newest {
			t.Errorf("truncated list runs %s … %s, want the oldest %s and the newest %s", voice.dates[0], voice.dates[99], oldest, newest)
		}
		// The Client still finds the oldest wait in a truncated list.
		events, _, err := f.client(t, nil).Observations(context.Background(), ids[:1])
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := obsValue(events[0], "voice", app.LongestWait); !near(w, 250*60) {
			t.Errorf("longest voice wait = %v, want 15000 (250 minutes)", w)
		}
	})

	t.Run("429 with Retry-After on the call asked for", func(t *testing.T) {
		f.failCall(pathObservations, 2, fakeFail{Status: http.StatusTooManyRequests, RetryAfter: "7"})
		body := `{"filter":{"type":"or","predicates":[{"dimension":"queueId","value":"` + ids[0] + `"}]},"metrics":["oWaiting"]}`
		var statuses []int
		var retryAfter string
		for range 3 {
			resp, _ := fakeRaw(t, f, http.MethodPost, pathObservations, body)
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests {
				retryAfter = resp.Header.Get("Retry-After")
			}
		}
		if !slices.Equal(statuses, []int{200, 429, 200}) || retryAfter != "7" {
			t.Errorf("statuses %v, Retry-After %q; want 200, 429, 200 with Retry-After 7", statuses, retryAfter)
		}
	})
}
