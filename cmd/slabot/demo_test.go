package main

import (
	"context"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	for _, args := range [][]string{{"demo"}, {"demo", "-json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := &syncWriter{}
			if err := run(context.Background(), args, env(nil), out); err != nil {
				t.Fatalf("demo failed: %v\n%s", err, out.String())
			}
			got := out.String()
			for _, want := range []string{
				"new message in C0DEMO",
				"(acknowledged)", "Acknowledged by <@U0SUPERVISOR>",
				"*Resolved: Support*", "thread reply", "after 5m 40s",
				"Threshold set: *default* waiting above 10",
				"Sales <VIP> & Co", // escaped for Slack, readable on the console
				"(snoozed)", "Unsnooze queue",
				"*Open alerts* (6)",
				"Alert storm: 2 queues breaching since 09:05 UTC", // the digest, updated in place
			} {
				if !strings.Contains(got, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			// One message for Support; the storm's first four alone, the rest in one digest.
			if n := strings.Count(got, "new message in"); n != 6 {
				t.Errorf("%d new messages, want 6", n)
			}
			if strings.Contains(args[len(args)-1], "json") != strings.Contains(got, `"blocks"`) {
				t.Errorf("Block Kit JSON printed = %v with args %v", strings.Contains(got, `"blocks"`), args)
			}
		})
	}
}
