package handlers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// fakeDirectory is the Genesys Cloud queue directory as QueuesNamed
// answers it: names compared as the genesys client compares them.
type fakeDirectory struct {
	mu     sync.Mutex
	queues []app.QueueInfo
	err    error
	asked  []string
}

func (f *fakeDirectory) QueuesNamed(_ context.Context, name string) ([]app.QueueInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, name)
	if f.err != nil {
		return nil, f.err
	}
	var out []app.QueueInfo
	for _, q := range f.queues {
		if strings.EqualFold(q.Name, strings.Join(strings.Fields(name), " ")) {
			out = append(out, q)
		}
	}
	return out, nil
}

// TestQueueNamedBeforeAnyEvent (issue 13, item 10): a queue no event has
// named yet can be given by name. With Genesys API credentials the name
// is looked up in the directory, the rule is set on the queue's ID and
// fires on its first event; a name the directory does not know, or a
// directory that cannot be asked, says so and changes nothing. Without
// credentials the answer says where to find the queue's ID and gives the
// command to type with it, which then works.
func TestQueueNamedBeforeAnyEvent(t *testing.T) {
	ctx := context.Background()
	const twinA, twinB = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-aaaaaaaaaaaa"

	t.Run("with the directory", func(t *testing.T) {
		dir := &fakeDirectory{queues: []app.QueueInfo{{ID: supportQueue, Name: "Support"},
			{ID: twinA, Name: "Twin"}, {ID: twinB, Name: "Twin"}}}
		e := newClockedE2E(t, engine.Options{}, nil, func(d *Deps) { d.Directory = dir })

		got := runCommand(t, e.h, "U0LEAD001", "set support waiting 10")
		for _, want := range []string{"Threshold set: *Support* waiting above 10.",
			"Found in the Genesys Cloud queue directory (ID `" + supportQueue + "`); no event has come from *Support* yet, and this applies as soon as one does."} {
			if !strings.Contains(got, want) {
				t.Errorf("set on a queue only the directory knows:\n%s\nwant %q", got, want)
			}
		}
		ts, err := e.store.Thresholds(ctx)
		if err != nil || len(ts) != 1 || ts[0].QueueID != supportQueue || ts[0].Metric != app.Waiting || ts[0].Value != 10 {
			t.Fatalf("thresholds = %+v, %v; want Support's waiting 10 by its ID", ts, err)
		}

		// The queue's first event: the rule applies.
		e.observeAt(t, supportQueue, "voice", app.Waiting, 15)
		posts := e.slack.waitFor(t, "chat.postMessage", 1)
		if got := posts[0].text(); !strings.Contains(got, "*SLA breach: Support*") || !strings.Contains(got, "*Waiting* is *15*") {
			t.Errorf("the first event's alert reads:\n%s", got)
		}
		// Known by name from now on: listed so, and not looked up again.
		if got := runCommand(t, e.h, "U0LEAD001", "list Support"); !strings.Contains(got, "*Thresholds* (1)\n• *Support* waiting above 10") {
			t.Errorf("/sla list Support after the set:\n%s", got)
		}
		dir.mu.Lock()
		asked := len(dir.asked)
		dir.mu.Unlock()
		if asked != 1 {
			t.Errorf("the directory was asked %d times, want once", asked)
		}

		got = runCommand(t, e.h, "U0LEAD001", "set Nowhere wait 4m")
		for _, want := range []string{"No queue named 'Nowhere', in Genesys Cloud's queue directory either", "Admin → Contact Center → Queues",
			"Then: `/sla set &lt;queue-id&gt; wait 4m`"} {
			if !strings.Contains(got, want) {
				t.Errorf("a name the directory does not know:\n%s\nwant %q", got, want)
			}
		}
		if got := runCommand(t, e.h, "U0LEAD001", "set Twin wait 4m"); !strings.Contains(got, "2 queues are named 'Twin'; use a queue ID instead: "+twinA+", "+twinB) {
			t.Errorf("a name two directory queues share:\n%s", got)
		}
		dir.mu.Lock()
		dir.err = errors.New("genesys: GET /api/v2/routing/queues: status 503")
		dir.mu.Unlock()
		got = runCommand(t, e.h, "U0LEAD001", `snooze "Night desk" 30m`)
		for _, want := range []string{"No queue named 'Night desk' yet, and slabot could not ask Genesys Cloud's queue directory just now",
			"Then: `/sla snooze &lt;queue-id&gt; 30m`"} {
			if !strings.Contains(got, want) {
				t.Errorf("the directory down:\n%s\nwant %q", got, want)
			}
		}
		if ts, err := e.store.Thresholds(ctx); err != nil || len(ts) != 1 {
			t.Errorf("failed lookups changed the thresholds: %+v, %v", ts, err)
		}
	})

	t.Run("without credentials", func(t *testing.T) {
		e := newClockedE2E(t, engine.Options{}, nil)
		got := runCommand(t, e.h, "U0LEAD001", `set "Support" waiting 10 for 2m`)
		for _, want := range []string{"No queue named 'Support' yet", "without Genesys API credentials (GENESYS_CLIENT_ID/SECRET)",
			"in Genesys Cloud, Admin → Contact Center → Queues, open the queue; the ID is the last part of the page's address",
			"Then: `/sla set &lt;queue-id&gt; waiting 10 for 2m`"} {
			if !strings.Contains(got, want) {
				t.Errorf("set without a directory:\n%s\nwant %q", got, want)
			}
		}
		if ts, err := e.store.Thresholds(ctx); err != nil || len(ts) != 0 {
			t.Fatalf("an unknown name changed the thresholds: %+v, %v", ts, err)
		}
		// Slack sends & as &amp;: the command shown back is still whole.
		if got := runCommand(t, e.h, "U0LEAD001", `route "Billing &amp; Co" here`); !strings.Contains(got, "Then: `/sla route &lt;queue-id&gt; here`") {
			t.Errorf("route on a name with &:\n%s", got)
		}
		// What the answer says to type works.
		got = runCommand(t, e.h, "U0LEAD001", "set "+supportQueue+" waiting 10")
		if !strings.Contains(got, "Threshold set") || !strings.Contains(got, "No Genesys event has named queue `"+supportQueue+"` yet") {
			t.Errorf("set by ID:\n%s", got)
		}
		e.observeAt(t, supportQueue, "voice", app.Waiting, 15)
		e.slack.waitFor(t, "chat.postMessage", 1)
	})
}
