package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Idempotency marks. A webhook event's key is remembered as a mark: the
// first 8 bytes of the key's SHA-256, a 64-bit integer, in a Redis set of
// its queue and time bucket. A set of at most markSetSize integers is an
// intset, 8 bytes a member, with one expiry for the whole bucket, where a
// key of its own per event cost 184 bytes (BENCHMARKS.md, "Redis on small
// plans"). Two keys collide once in 2^64: the chance that a new event is
// taken for a replay is negligible against the window's few million marks.
//
// Buckets are a quarter of the window, keyed by their start in Unix
// seconds ({queue}:seen:<start>). An event that carries its own stamp is
// always marked in the bucket of that stamp, so a replay, which carries
// the same stamp, needs only that one bucket checked; an event without a
// stamp is marked in the bucket of when it arrived, and a replay of it is
// looked for in every bucket of the window.
//
// A bucket's set never grows past markSetSize, where Redis would convert
// it to a hash table (about 50 bytes a member). The marks that do not fit
// spill to a set named by the first hex digit of their hash
// ({queue}:seen:<start>:7), and from a full one of those to the next digit
// (…:7c), and so on: sixteen-way, so that a queue taking hundreds of
// events a second still finds a mark in a few sets. A full set is never
// written again, so a mark is looked for along its own path down to the
// first set that is not full.

// Dedup window bounds and default (SLABOT_DEDUP_WINDOW). The default keeps
// a 200-queue × 3-media-type organisation at a realistic webhook rate
// within a 25 MB plan below the memory guard's 80 % (BENCHMARKS.md).
const (
	DefaultDedupWindow = time.Hour
	MinDedupWindow     = 15 * time.Minute
	MaxDedupWindow     = 7 * 24 * time.Hour
)

// markSetSize is the most marks one set holds: Redis keeps a set of up to
// set-max-intset-entries (512 by default) integers as an intset, and 511
// members of 8 bytes plus its 8-byte header fill a 4 KiB allocation.
const markSetSize = 511

// markSkew widens what is kept and looked for: events may be stamped up to
// 5 minutes ahead of slabot's clock (the webhook refuses more), and
// replicas' clocks may differ by a little.
const markSkew = 10 * time.Minute

// seenLua finds, and adds, marks (see above). seenIn looks for s.mark in
// bucket b's sets and, with add, marks it in the first set on its path
// that is not full; it reports whether the mark was already there. A new
// set gets the bucket's expiry. seen looks in every bucket of s.check,
// then in s.put, where with add it marks.
const seenLua = `
local function seenIn(base, s, b, add)
  local root = base .. b
  local k, d = root, 0
  while true do
    local n = redis.call('SCARD', k)
    if n < s.cap or d >= #s.path then
      if add then
        if redis.call('SADD', k, s.mark) == 0 then return true end
        if n == 0 then redis.call('EXPIRE', k, s.ttl) end
        return false
      end
      return n > 0 and redis.call('SISMEMBER', k, s.mark) == 1
    end
    if redis.call('SISMEMBER', k, s.mark) == 1 then return true end
    d = d + 1
    k = root .. ':' .. string.sub(s.path, 1, d)
  end
end
local function seen(base, s, add)
  for _, b in ipairs(s.check or {}) do
    if seenIn(base, s, b, false) then return true end
  end
  return seenIn(base, s, s.put, add)
end
`

// seenScript reports (1 or 0) whether the mark of its argument (a
// markRecord) is recorded under base KEYS[1]. It writes nothing.
var seenScript = redis.NewScript(seenLua + `
return seen(KEYS[1], cjson.decode(ARGV[1]), false) and 1 or 0
`)

// markRecord is where the scripts look for an event's mark, and put it.
type markRecord struct {
	Mark  string  `json:"mark"`            // the key's hash as a signed decimal: an intset member
	Path  string  `json:"path"`            // the same hash in hex: the spill sets it may be in
	Put   int64   `json:"put"`             // the bucket it is marked in
	Check []int64 `json:"check,omitempty"` // other buckets it may be in
	Cap   int     `json:"cap"`             // marks a set holds before spilling
	TTL   int     `json:"ttl"`             // seconds a bucket's set is kept
}

// marks is the mark layout of a store: its window and buckets.
type marks struct {
	window, bucket time.Duration
	setSize        int
}

func newMarks(window time.Duration) marks {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	return marks{window: window, bucket: max(window/4, time.Second), setSize: markSetSize}
}

// bucketOf is the start, in Unix seconds, of the bucket holding t.
func (m marks) bucketOf(t time.Time) int64 {
	b := int64(m.bucket / time.Second)
	s := t.Unix()
	return s - ((s%b)+b)%b
}

// ttl is how long a bucket's set is kept from its creation: a set is
// created no earlier than markSkew before its bucket starts, and its marks
// are needed until the window has passed since the bucket's end.
func (m marks) ttl() int { return int((m.window + m.bucket + 2*markSkew) / time.Second) }

// record is where the mark of event key key, sent at sentAt (zero:
// unknown) and evaluated at now, is looked for and put.
func (m marks) record(key string, sentAt, now time.Time) markRecord {
	sum := sha256.Sum256([]byte(key))
	h := binary.BigEndian.Uint64(sum[:8])
	rec := markRecord{Mark: strconv.FormatInt(int64(h), 10), Path: hex.EncodeToString(sum[:8]),
		Cap: m.setSize, TTL: m.ttl()}
	if !sentAt.IsZero() {
		rec.Put = m.bucketOf(sentAt)
		return rec
	}
	if now.IsZero() {
		now = time.Now()
	}
	rec.Put = m.bucketOf(now)
	step := int64(m.bucket / time.Second)
	for b := m.bucketOf(now.Add(-m.window - markSkew)); b <= m.bucketOf(now.Add(markSkew)); b += step {
		if b != rec.Put {
			rec.Check = append(rec.Check, b)
		}
	}
	return rec
}

// seenBase is the common start of a queue's mark sets' keys.
func (r *Redis) seenBase(q string) string { return r.prefix + "{" + q + "}:seen:" }

// DedupWindow is how long this store remembers event keys.
func (r *Redis) DedupWindow() time.Duration { return r.marks.window }

// queueSeen queues on pipe the lookup of an event's mark.
func (r *Redis) queueSeen(ctx context.Context, pipe redis.Pipeliner, q, key string, sentAt, now time.Time) (*redis.Cmd, error) {
	rec, err := json.Marshal(r.marks.record(key, sentAt, now))
	if err != nil {
		return nil, fmt.Errorf("encode mark: %w", err)
	}
	return seenScript.Eval(ctx, pipe, []string{r.seenBase(q)}, rec), nil
}
