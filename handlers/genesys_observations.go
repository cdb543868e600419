package handlers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/slabot/slabot/app"
)

type wireStatMetric struct {
	Metric string `json:"metric"`
	Stats  struct {
		Count       wireNumber `json:"count"`
		Ratio       wireNumber `json:"ratio"`
		Denominator wireNumber `json:"denominator"`
	} `json:"stats"`
}

// validMediaType keeps media types to the tokens Genesys uses (voice,
// chat, callback…): they become part of alert IDs and button values.
func validMediaType(s string) bool {
	return len(s) <= maxMediaType && strings.IndexFunc(s, func(r rune) bool {
		return r != '-' && r != '_' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z')
	}) < 0
}

// appendObservations maps one data item's metrics to slabot's (DESIGN §4).
// Counts of one metric are summed over its qualifiers; metrics slabot does
// not read are skipped without looking at their stats.
func appendObservations(obs []app.Observation, metrics []wireStatMetric, queueID, media string) ([]app.Observation, error) {
	type total struct {
		sum  float64
		seen bool
		// volume is what a rate is computed over (DESIGN §4): the
		// service level's denominator, the interactions offered.
		volume float64
	}
	var waiting, agents, abandoned, offered, sl total
	for j := range metrics {
		m := &metrics[j]
		var t *total
		var err error
		switch m.Metric {
		case "oWaiting":
			t = &waiting
		case "oOnQueueUsers":
			t = &agents
		case "tAbandon":
			t = &abandoned
		case "nOffered":
			t = &offered
		case "oServiceLevel":
			// A zero denominator (nothing answered or abandoned yet) makes
			// the ratio meaningless.
			den, hasDen, derr := m.Stats.Denominator.value("stats.denominator")
			ratio, hasRatio, rerr := m.Stats.Ratio.value("stats.ratio")
			if err = cmp.Or(derr, rerr); hasDen && hasRatio && den > 0 {
				sl = total{ratio * 100, true, den}
			}
		default:
			continue
		}
		if t != nil {
			var v float64
			var ok bool
			if v, ok, err = m.Stats.Count.value("stats.count"); ok {
				t.sum, t.seen = t.sum+v, true
			}
		}
		if err != nil {
			return nil, fmt.Errorf("metrics[%d].%w", j, err)
		}
	}
	abandon := total{seen: abandoned.seen && offered.seen && offered.sum > 0}
	if abandon.seen {
		abandon.sum, abandon.volume = abandoned.sum/offered.sum*100, offered.sum
	}
	for _, o := range [...]struct {
		metric app.Metric
		total
	}{{app.Waiting, waiting}, {app.Agents, agents}, {app.ServiceLevel, sl}, {app.AbandonRate, abandon}} {
		if !o.seen {
			continue
		}
		if math.IsInf(o.sum, 0) || math.IsNaN(o.sum) {
			return nil, fmt.Errorf("metrics: %s out of range", o.metric)
		}
		obs = append(obs, app.Observation{QueueID: queueID, MediaType: media, Metric: o.metric, Value: o.sum, Volume: o.volume})
	}
	return obs, nil
}

// keyOr is the event's idempotency key: its own id when it has one, else
// a hash of its bytes as sent, so a replayed copy maps to the same key.
func keyOr(id string, raw []byte) string {
	if id != "" {
		return id
	}
	sum := sha256.Sum256(raw)
	var b [len(hashPrefix) + 2*sha256.Size]byte
	copy(b[:], hashPrefix)
	hex.Encode(b[len(hashPrefix):], sum[:])
	return string(b[:])
}

// replayKey is a bare notification's idempotency key: its CorrelationId
// and a short hash of its eventBody exactly as received. Genesys Cloud does
// not document CorrelationId as unique per message, and one observations
// topic carries both instantaneous and interval messages, so two messages
// sharing a CorrelationId but saying different things are both applied,
// while a redelivered copy (same id, same bytes) is still recognised. An
// empty CorrelationId leaves the key to keyOr's hash of the whole event.
func replayKey(correlationID string, raw []byte) string {
	if correlationID == "" {
		return ""
	}
	// A second, shallow decode: RawMessage keeps the eventBody's bytes as
	// sent, matched by the same (case-insensitive, last wins) key rules as
	// the decode that read the event.
	var env struct {
		EventBody json.RawMessage `json:"eventBody"`
	}
	_ = json.Unmarshal(raw, &env) // raw was decoded already: valid JSON
	sum := sha256.Sum256(env.EventBody)
	return correlationID + ":" + hex.EncodeToString(sum[:replayHashBytes])
}

// replayHashBytes is how much of the eventBody's SHA-256 the replay key
// keeps: 64 bits tell apart the messages of one CorrelationId with room to
// spare, and keep the Redis key short.
const replayHashBytes = 8
