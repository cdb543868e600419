package slackapi

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// badEntity finds an & that starts no entity: the remains of a cut one.
var badEntity = regexp.MustCompile(`&(?:[^alg]|a(?:[^m]|m[^p]|mp[^;])|l(?:[^t]|t[^;])|g(?:[^t]|t[^;]))`)

// checkMrkdwn fails when a line of mrkdwn text leaves a * open or holds
// a cut entity.
func checkMrkdwn(t *testing.T, where, text string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.Count(line, "*")%2 != 0 {
			t.Errorf("%s: a * is left open in %q", where, line)
		}
		if badEntity.MatchString(line + "  ") {
			t.Errorf("%s: cut or bare entity in %q", where, line)
		}
	}
}

// TestQueueNamesAreInert: formatting characters in a queue name show as
// lookalikes wherever a supervisor reads the name, so they neither
// format nor end the bold around the name.
func TestQueueNamesAreInert(t *testing.T) {
	const name = "*Payments *urgent** _VIP_ ~old~ `x` & <!here>"
	const shown = "∗Payments ∗urgent∗∗ ˍVIPˍ ∼old∼ ˋxˋ &amp; &lt;!here&gt;"
	a := firingAlert()
	a.QueueName = name
	text, blocks := AlertMessage(a, testFiredAt.Add(time.Minute), "")
	all := texts(decodeBlocks(t, blocks))
	for where, s := range map[string]string{
		"alert message": all, "fallback text": text, "status line": AlertSummary(a, testFiredAt),
		"queue label": queueLabel("q-1", map[string]string{"q-1": name}),
		"reminder":    replyText(a, "reminder", testFiredAt, ""),
	} {
		if !strings.Contains(s, shown) {
			t.Errorf("%s does not show the name inertly (%q):\n%s", where, shown, s)
		}
		if strings.Contains(s, "*Payments") || strings.Contains(s, "_VIP_") || strings.Contains(s, "<!here>") {
			t.Errorf("%s shows formatting from the name:\n%s", where, s)
		}
		checkMrkdwn(t, where, s)
	}
	d := testDigest(2)
	d.Members[0].QueueName = name
	checkMrkdwn(t, "digest", texts(decodeBlocks(t, second(DigestMessage(d, testFiredAt)))))
}

// TestDigestTellsLongNamesApart: thirty queues whose names differ only
// at the end of a long shared start are each told apart in the digest,
// and no cut falls inside an escape or leaves a * open.
func TestDigestTellsLongNamesApart(t *testing.T) {
	const prefix = "Customer Service & Billing <Priority> - Northern Europe Region "
	d := app.Digest{ID: app.DigestID("C1", 1), Channel: "C1", Seq: 1, OpenedAt: testFiredAt}
	for i := range 30 {
		d.Members = append(d.Members, app.DigestMember{AlertID: fmt.Sprintf("q-%d/voice/waiting", i), Episode: 1,
			QueueID: fmt.Sprintf("q-%d", i), QueueName: fmt.Sprintf("%s%d - Tier %d", prefix, i, i%3),
			MediaType: "voice", Metric: app.Waiting, Value: 20, Threshold: 10, State: app.StateFiring, FiredAt: testFiredAt})
	}
	text, blocks := DigestMessage(d, testFiredAt.Add(2*time.Minute))
	if want := "Alert storm: 30 queues breaching since 22:13 UTC (30 firing)"; text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
	all := texts(decodeBlocks(t, blocks))
	if want := "*Alert storm: 30 queues breaching since <!date^1700000000^{time}|22:13 UTC>*"; !strings.Contains(all, want) {
		t.Errorf("headline lacks %q:\n%s", want, all)
	}
	if want := "Every queue below is named *Customer Service &amp; Billing &lt;Priority&gt; - Northern Europe Region *…"; !strings.Contains(all, want) {
		t.Errorf("digest does not name the shared start once (%q):\n%s", want, all)
	}
	for i := range 30 {
		if want := fmt.Sprintf("*…%d - Tier %d (voice)* — Waiting", i, i%3); !strings.Contains(all, want) {
			t.Errorf("queue %d is not told apart (%q):\n%s", i, want, all)
		}
	}
	checkMrkdwn(t, "digest", all)
}

// TestCutMiddleKeepsTheTail: a name too long for its place loses its
// middle, never its end, and the cut comes before escaping.
func TestCutMiddleKeepsTheTail(t *testing.T) {
	name := "Customer Service & Billing <Priority> - " + strings.Repeat("&", 40) + " - Northern Europe Region 17"
	got := QueueName(name, 60)
	if !strings.HasSuffix(got, "Northern Europe Region 17") || !strings.HasPrefix(got, "Customer Service &amp;…") {
		t.Errorf("QueueName = %q: want the start and the distinctive end", got)
	}
	if n := len([]rune(strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(got))); n > 60 {
		t.Errorf("QueueName is %d runes, want at most 60", n)
	}
	checkMrkdwn(t, "cut name", got)
	if got := QueueName("Support", 60); got != "Support" {
		t.Errorf("short name changed: %q", got)
	}
}

// TestClipLinesNeverCutsMarkup: text too long for a block loses whole
// lines and says how many; a single huge line is cut outside entities
// and bold.
func TestClipLinesNeverCutsMarkup(t *testing.T) {
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("• *Queue &amp; %d* waiting", i))
	}
	got := clipLines(strings.Join(lines, "\n"), 500)
	if len(got) > 500 || !strings.Contains(got, "more lines.") {
		t.Errorf("clipLines = %d bytes:\n%s", len(got), got)
	}
	checkMrkdwn(t, "clipped lines", got)
	one := "*" + strings.Repeat("a &amp; b ", 100) + "*"
	for n := 20; n < 60; n++ {
		got := clipLines(one, n)
		if len(got) > n {
			t.Errorf("clipLines(%d) = %d bytes", n, len(got))
		}
		checkMrkdwn(t, fmt.Sprintf("one line cut at %d", n), got)
	}
}
