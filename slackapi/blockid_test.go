package slackapi

import (
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// blockIDs are the block_ids a call's blocks carry, in order (Slack makes
// up its own for blocks sent without one).
func blockIDs(t *testing.T, c slackCall) []string {
	t.Helper()
	var ids []string
	for _, b := range c.Blocks(t) {
		if id, _ := b["block_id"].(string); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestUpdatesHaveFreshBlockIDs: Slack discourages reusing a block_id
// across updates of a message, so every chat.update of an alert or a
// storm digest carries block_ids its earlier versions did not, while the
// handler still reads the alert or digest a click names from them. A
// retry of the same notification sends the same ids.
func TestUpdatesHaveFreshBlockIDs(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	ctx := t.Context()

	a := firingAlert()
	post := notification(app.KindPost, a)
	ts, err := c.Notify(ctx, post, "")
	if err != nil {
		t.Fatal(err)
	}
	// Two updates of the same message: a new value, then an ack.
	a.Value = 400
	first := notification(app.KindUpdate, a)
	first.At = post.At.Add(40 * time.Second)
	a.State, a.AckedBy, a.AckedAt = app.StateAcknowledged, "U123", first.At.Add(time.Minute)
	second := notification(app.KindUpdate, a)
	second.At = a.AckedAt
	for _, n := range []app.Notification{first, second, second} { // the second twice: a retry
		if _, err := c.Notify(ctx, n, ts); err != nil {
			t.Fatal(err)
		}
	}

	d := app.Digest{ID: app.DigestID("C1", 1), Channel: "C1", OpenedAt: testFiredAt,
		Size: 1, Open: 1, Members: []app.DigestMember{{AlertID: "q-1/voice/waiting", Episode: 1, QueueID: "q-1", QueueName: "Support",
			MediaType: "voice", Metric: app.Waiting, Value: 14, Threshold: 10, State: app.StateFiring, FiredAt: testFiredAt}}}
	dpost := app.Notification{Kind: app.KindDigestPost, Channel: "C1", Digest: &d, At: testFiredAt}
	dts, err := c.Notify(ctx, dpost, "")
	if err != nil {
		t.Fatal(err)
	}
	dupdate := dpost
	dupdate.Kind, dupdate.At = app.KindDigestUpdate, testFiredAt.Add(5*time.Second)
	if _, err := c.Notify(ctx, dupdate, dts); err != nil {
		t.Fatal(err)
	}

	calls := f.Calls()
	if len(calls) != 6 {
		t.Fatalf("%d calls, want 6", len(calls))
	}
	alertVersions := [][]string{blockIDs(t, calls[0]), blockIDs(t, calls[1]), blockIDs(t, calls[2])}
	digestVersions := [][]string{blockIDs(t, calls[4]), blockIDs(t, calls[5])}
	for _, versions := range [][][]string{alertVersions, digestVersions} {
		seen := map[string]int{}
		for i, ids := range versions {
			if len(ids) == 0 {
				t.Fatalf("version %d of a message has no block_id to act on", i)
			}
			for _, id := range ids {
				if j, ok := seen[id]; ok {
					t.Errorf("block_id %q of version %d was already used by version %d of the same message", id, i, j)
				}
				seen[id] = i
			}
		}
	}
	if retry := blockIDs(t, calls[3]); !equalStrings(retry, alertVersions[2]) {
		t.Errorf("a retried update sent block_ids %q, want the same as its first try %q", retry, alertVersions[2])
	}

	// Each version still names what a click acts on.
	for i, ids := range alertVersions {
		bases := map[string]bool{}
		for _, id := range ids {
			bases[BlockBase(id)] = true
		}
		if !bases[BlockActions] || !bases[AlertValue(a)] {
			t.Errorf("alert version %d block_ids %q: want bases %q and %q", i, ids, BlockActions, AlertValue(a))
		}
		for _, id := range ids {
			if BlockBase(id) == BlockActions {
				continue
			}
			if got, ep, err := ParseAlertValue(BlockBase(id)); err != nil || got != a.ID || ep != a.Episode {
				t.Errorf("block_id %q parses as %q episode %d (%v), want %s", id, got, ep, err, AlertValue(a))
			}
		}
	}
	for _, ids := range digestVersions {
		if len(ids) != 1 || BlockBase(ids[0]) != d.ID {
			t.Errorf("digest block_ids %q, want one whose base is %q", ids, d.ID)
		}
	}
	if BlockBase("alert_actions") != "alert_actions" {
		t.Error("a block_id of a message posted before revisions lost its base")
	}
}
