package genesys

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mypurecloud/platform-client-sdk-go/v150/platformclientv2"
	"github.com/slabot/slabot/app"
)

// API paths.
const (
	pathQueues       = "/api/v2/routing/queues"
	pathObservations = "/api/v2/analytics/queues/observations/query"
	pathAggregates   = "/api/v2/analytics/conversations/aggregates/query"
)

// Query sizes. Analytics filters take at most 100 predicates per query.
const (
	maxPredicates = 100
	queuePageSize = 100
	maxQueuePages = 1000
)

// stats is an analytics statistic, decoded as float64 (the SDK's models use
// float32, which loses precision on large sums and ratios).
type stats struct {
	Count       *float64 `json:"count"`
	Ratio       *float64 `json:"ratio"`
	Numerator   *float64 `json:"numerator"`
	Denominator *float64 `json:"denominator"`
}

func (s stats) count() float64 {
	if s.Count == nil {
		return 0
	}
	return *s.Count
}

// group is the dimension set of one analytics result.
type group struct {
	QueueID   string `json:"queueId"`
	MediaType string `json:"mediaType"`
}

// Queues lists every queue the OAuth client can see with its service-level
// target per media type, following pages until pageCount.
func (c *Client) Queues(ctx context.Context) ([]app.QueueInfo, error) {
	return c.queues(ctx, nil)
}

// QueuesNamed asks the directory for the queues named name (any case,
// runs of spaces collapsed), so that a supervisor can set a rule on a
// queue before any event or directory refresh has named it. Genesys
// Cloud's name filter reads * as a wildcard and may match loosely, so
// the answer is filtered here to the names that are the same.
func (c *Client) QueuesNamed(ctx context.Context, name string) ([]app.QueueInfo, error) {
	want := strings.Join(strings.Fields(name), " ")
	if want == "" {
		return nil, nil
	}
	all, err := c.queues(ctx, url.Values{"name": {want}})
	if err != nil {
		return nil, err
	}
	var out []app.QueueInfo
	for _, q := range all {
		if strings.EqualFold(strings.Join(strings.Fields(q.Name), " "), want) {
			out = append(out, q)
		}
	}
	return out, nil
}

// queues lists the directory's queues matching filter, page by page.
func (c *Client) queues(ctx context.Context, filter url.Values) ([]app.QueueInfo, error) {
	var out []app.QueueInfo
	for page := 1; page <= maxQueuePages; page++ {
		var listing struct {
			Entities []struct {
				ID            string `json:"id"`
				Name          string `json:"name"`
				MediaSettings map[string]struct {
					ServiceLevel *struct {
						Percentage *float64 `json:"percentage"`
						DurationMs *float64 `json:"durationMs"`
					} `json:"serviceLevel"`
				} `json:"mediaSettings"`
			} `json:"entities"`
			PageCount int `json:"pageCount"`
		}
		q := url.Values{"pageSize": {strconv.Itoa(queuePageSize)}, "pageNumber": {strconv.Itoa(page)}}
		for k, v := range filter {
			q[k] = v
		}
		if _, err := c.call(ctx, http.MethodGet, pathQueues, q, nil, &listing); err != nil {
			return nil, err
		}
		for _, e := range listing.Entities {
			qi := app.QueueInfo{ID: e.ID, Name: e.Name}
			for media, ms := range e.MediaSettings {
				sl := ms.ServiceLevel
				if sl == nil || sl.Percentage == nil || sl.DurationMs == nil {
					continue
				}
				if qi.ServiceLevels == nil {
					qi.ServiceLevels = make(map[string]app.ServiceLevelTarget)
				}
				qi.ServiceLevels[media] = app.ServiceLevelTarget{
					Percent: *sl.Percentage * 100,
					Within:  time.Duration(*sl.DurationMs * float64(time.Millisecond)),
				}
			}
			out = append(out, qi)
		}
		if page >= listing.PageCount || len(listing.Entities) == 0 {
			return out, nil
		}
	}
	return out, fmt.Errorf("genesys: GET %s: more than %d pages", pathQueues, maxQueuePages)
}

// Observations reads the queues' live state: per (queue, media type) the
// waiting count and longest wait, per queue the agents on queue. It queries
// at most 100 queues per request. Longest wait is the server's time (the
// response's Date header) minus the oldest waiting conversation's
// observationDate, so a skewed local clock does not distort it; serverTime
// is that time (the client clock when the header is missing).
//
// Each requested queue yields one event. On error, the events of the chunks
// that succeeded are returned with it.
func (c *Client) Observations(ctx context.Context, queueIDs []string) ([]app.Event, time.Time, error) {
	var (
		events     []app.Event
		serverTime time.Time
	)
	for chunk := range slices.Chunk(queueIDs, maxPredicates) {
		body := platformclientv2.Queueobservationquery{
			Filter: &platformclientv2.Queueobservationqueryfilter{
				VarType:    platformclientv2.String("or"),
				Predicates: observationPredicates(chunk),
			},
			Metrics:       &[]string{"oWaiting", "oInteracting", "oOnQueueUsers"},
			DetailMetrics: &[]string{"oWaiting"},
		}
		var resp struct {
			Results []struct {
				Group group `json:"group"`
				Data  []struct {
					Metric       string `json:"metric"`
					Qualifier    string `json:"qualifier"`
					Stats        stats  `json:"stats"`
					Truncated    bool   `json:"truncated"`
					Observations []struct {
						ObservationDate time.Time `json:"observationDate"`
					} `json:"observations"`
				} `json:"data"`
			} `json:"results"`
		}
		h, err := c.call(ctx, http.MethodPost, pathObservations, nil, body, &resp)
		if err != nil {
			return events, serverTime, err
		}
		now := c.serverTime(h)
		serverTime = now

		byQueue := make(map[string]*app.Event, len(chunk))
		for _, id := range chunk {
			// Agents on queue is always reported: a queue missing from the
			// answer has nobody on it.
			byQueue[id] = &app.Event{QueueID: id, At: now, Observations: []app.Observation{{QueueID: id, Metric: app.Agents}}}
		}
		for _, r := range resp.Results {
			ev := byQueue[r.Group.QueueID]
			if ev == nil {
				continue // a queue we did not ask for
			}
			if r.Group.MediaType == "" {
				for _, d := range r.Data {
					if d.Metric == "oOnQueueUsers" {
						ev.Observations[0].Value += d.Stats.count()
					}
				}
				continue
			}
			waiting, oldest, known := 0.0, time.Time{}, true
			for _, d := range r.Data {
				if d.Metric != "oWaiting" {
					continue
				}
				waiting += d.Stats.count()
				for _, o := range d.Observations {
					if !o.ObservationDate.IsZero() && (oldest.IsZero() || o.ObservationDate.Before(oldest)) {
						oldest = o.ObservationDate
					}
				}
				if d.Stats.count() > 0 && len(d.Observations) == 0 {
					known = false
				}
				if d.Truncated {
					c.log.Debug("genesys waiting observations truncated", "queue_id", ev.QueueID, "media_type", r.Group.MediaType)
				}
			}
			ev.Observations = append(ev.Observations, app.Observation{
				QueueID: ev.QueueID, MediaType: r.Group.MediaType, Metric: app.Waiting, Value: waiting,
			})
			// Without detail observations for waiting conversations the
			// longest wait is unknown: report nothing rather than zero.
			if waiting == 0 || known && !oldest.IsZero() {
				wait := 0.0
				if waiting > 0 {
					wait = max(now.Sub(oldest), 0).Seconds()
				}
				ev.Observations = append(ev.Observations, app.Observation{
					QueueID: ev.QueueID, MediaType: r.Group.MediaType, Metric: app.LongestWait, Value: wait,
				})
			}
		}
		for _, id := range chunk {
			events = append(events, *byQueue[id])
		}
	}
	if serverTime.IsZero() {
		serverTime = c.clock.Now()
	}
	return events, serverTime, nil
}

// serverTime is the response's Date, or the client clock without one.
func (c *Client) serverTime(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return c.clock.Now()
}

func observationPredicates(ids []string) *[]platformclientv2.Queueobservationquerypredicate {
	ps := make([]platformclientv2.Queueobservationquerypredicate, len(ids))
	for i, id := range ids {
		ps[i] = platformclientv2.Queueobservationquerypredicate{
			Dimension: platformclientv2.String("queueId"),
			Value:     platformclientv2.String(id),
		}
	}
	return &ps
}

// serviceLevelInterval is the length of Genesys Cloud's reporting interval
// whose service level and abandon rate slabot evaluates.
const serviceLevelInterval = 30 * time.Minute

// ServiceLevels reads the current 30-minute interval's (in UTC, the one
// holding now) service level and abandon rate per (queue, media type), at
// most 100 queues per request. A rate is reported only when its denominator
// is above zero, and a queue with nothing to report yields no event.
// On error, the events of the chunks that succeeded are returned with it.
func (c *Client) ServiceLevels(ctx context.Context, queueIDs []string, now time.Time) ([]app.Event, error) {
	start := now.UTC().Truncate(serviceLevelInterval)
	interval := start.Format(isoMillis) + "/" + start.Add(serviceLevelInterval).Format(isoMillis)
	var events []app.Event
	for chunk := range slices.Chunk(queueIDs, maxPredicates) {
		body := platformclientv2.Conversationaggregationquery{
			Interval: &interval,
			GroupBy:  &[]string{"queueId", "mediaType"},
			Metrics:  &[]string{"oServiceLevel", "tAbandon", "nOffered"},
			Filter: &platformclientv2.Conversationaggregatequeryfilter{
				VarType:    platformclientv2.String("or"),
				Predicates: aggregatePredicates(chunk),
			},
		}
		var resp struct {
			Results []struct {
				Group group `json:"group"`
				Data  []struct {
					Metrics []struct {
						Metric string `json:"metric"`
						Stats  stats  `json:"stats"`
					} `json:"metrics"`
				} `json:"data"`
			} `json:"results"`
		}
		if _, err := c.call(ctx, http.MethodPost, pathAggregates, nil, body, &resp); err != nil {
			return events, err
		}
		byQueue := make(map[string]*app.Event)
		for _, r := range resp.Results {
			if !slices.Contains(chunk, r.Group.QueueID) {
				continue
			}
			var slNum, slDen, abandoned, offered float64
			var ratio *float64
			for _, d := range r.Data {
				for _, m := range d.Metrics {
					switch m.Metric {
					case "oServiceLevel":
						slNum += deref(m.Stats.Numerator)
						slDen += deref(m.Stats.Denominator)
						ratio = m.Stats.Ratio
					case "tAbandon":
						abandoned += m.Stats.count()
					case "nOffered":
						offered += m.Stats.count()
					}
				}
			}
			var obs []app.Observation
			if slDen > 0 {
				v := slNum / slDen
				if ratio != nil && len(r.Data) == 1 {
					v = *ratio
				}
				obs = append(obs, app.Observation{QueueID: r.Group.QueueID, MediaType: r.Group.MediaType, Metric: app.ServiceLevel,
					Value: v * 100, Volume: slDen})
			}
			if offered > 0 {
				obs = append(obs, app.Observation{QueueID: r.Group.QueueID, MediaType: r.Group.MediaType, Metric: app.AbandonRate,
					Value: abandoned / offered * 100, Volume: offered})
			}
			if len(obs) == 0 {
				continue
			}
			ev := byQueue[r.Group.QueueID]
			if ev == nil {
				ev = &app.Event{QueueID: r.Group.QueueID, At: now}
				byQueue[r.Group.QueueID] = ev
			}
			ev.Observations = append(ev.Observations, obs...)
		}
		for _, id := range chunk {
			if ev := byQueue[id]; ev != nil {
				events = append(events, *ev)
			}
		}
	}
	return events, nil
}

// isoMillis is how Genesys Cloud writes interval bounds.
const isoMillis = "2006-01-02T15:04:05.000Z"

func aggregatePredicates(ids []string) *[]platformclientv2.Conversationaggregatequerypredicate {
	ps := make([]platformclientv2.Conversationaggregatequerypredicate, len(ids))
	for i, id := range ids {
		ps[i] = platformclientv2.Conversationaggregatequerypredicate{
			Dimension: platformclientv2.String("queueId"),
			Value:     platformclientv2.String(id),
		}
	}
	return &ps
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
