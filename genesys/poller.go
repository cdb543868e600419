package genesys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// Ingester takes one event into the alert engine (engine.Engine).
type Ingester interface {
	Ingest(ctx context.Context, ev app.Event) (app.Outcome, error)
}

// Directory is the cached queue directory and the thresholds (the store).
type Directory interface {
	SaveQueues(ctx context.Context, queues []app.QueueInfo) error
	Queues(ctx context.Context) ([]app.QueueInfo, error)
	Thresholds(ctx context.Context) ([]app.Threshold, error)
}

// Lease elects the one replica that polls (the store).
type Lease interface {
	// AcquireLease takes the lease if free or expired, or renews it if
	// holder has it, and reports whether holder has it now.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Announcer posts an operational message to SLACK_CHANNEL_ID.
type Announcer interface {
	Announce(ctx context.Context, text string) error
}

// CycleObserver is told how each polling cycle went.
type CycleObserver interface {
	PollCycle(err error, at time.Time)
}

// PollerDeps are the poller's collaborators.
type PollerDeps struct {
	Ingester  Ingester
	Directory Directory
	Lease     Lease
	Announcer Announcer
}

// PollerOptions configures a Poller; zero values take the defaults.
type PollerOptions struct {
	// Interval is GENESYS_POLL_INTERVAL; default 10s. It is stretched when
	// so many queues are watched that polling at it would cost more than
	// maxObservationCallsPerMinute.
	Interval time.Duration
	// Queues is GENESYS_QUEUES: names (case-insensitive) or IDs. Empty
	// means the queues with thresholds.
	Queues []string
	// Holder identifies this replica in the lease; must be unique.
	Holder string
	// DirectoryEvery is how often the queue directory is refreshed;
	// default 10 minutes.
	DirectoryEvery time.Duration
	// ServiceLevelEvery is how often service levels are queried; default
	// one minute.
	ServiceLevelEvery time.Duration
	// BuiltinDefault says the engine applies a built-in default threshold
	// (DESIGN §4: default longest_wait 300s) that the Directory does not
	// list, so every queue is watched as if a `default` threshold existed.
	BuiltinDefault bool
	// Observer, when set, is told the result of every cycle this replica
	// polled (metrics).
	Observer CycleObserver
	Clock    app.Clock
	// Sleep waits out a 429's Retry-After within a cycle; default a timer
	// that stops early when ctx is done. Tests pass one that moves Clock.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// LeaseName is the lease that elects the polling replica.
const LeaseName = "genesys-poller"

// Tunables of the poller.
const (
	// staleAfter consecutive failed cycles post the stale-data warning,
	// naming the queues whose data is staleAfter intervals old.
	staleAfter = 3
	// maxPauses bounds the Retry-After pauses within one cycle, so that a
	// clock that does not move cannot spin it.
	maxPauses = 3
	// maxObservationCallsPerMinute keeps polling far below Genesys Cloud's
	// 300 requests per minute per OAuth client, leaving room for service
	// levels, the directory and anything else sharing the client.
	maxObservationCallsPerMinute = 120
	announceTimeout              = 10 * time.Second
)

// Poller is the elected replica's polling loop: directory, observations,
// service levels, ingestion and the staleness watchdog. Run and Cycle must
// not be called concurrently.
type Poller struct {
	c    *Client
	deps PollerDeps
	opts PollerOptions
	log  *slog.Logger

	leader           bool
	lastDirectory    time.Time
	lastServiceLevel time.Time
	watched          int
	stretched        time.Duration
	unresolved       string
	// media remembers each queue's media types, so that one missing from
	// an answer (nothing waiting any more) is reported as zero.
	media map[string][]string
	// next is the observation chunk the next cycle starts at: the one a
	// rate limit kept the last cycle from reaching, so the last chunks do
	// not starve while the OAuth client is rate-limited.
	next int
	// watch is what the last cycle polled; lastData says when each queue's
	// observations last arrived (since this replica took the lease).
	watch    []app.QueueInfo
	lastData map[string]time.Time

	failures     int
	failingSince time.Time
	warned       bool
}

// NewPoller returns a poller; call Run to start it.
func NewPoller(c *Client, deps PollerDeps, opts PollerOptions) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.DirectoryEvery <= 0 {
		opts.DirectoryEvery = 10 * time.Minute
	}
	if opts.ServiceLevelEvery <= 0 {
		opts.ServiceLevelEvery = time.Minute
	}
	if opts.Holder == "" {
		opts.Holder = "slabot"
	}
	if opts.Clock == nil {
		opts.Clock = app.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	return &Poller{c: c, deps: deps, opts: opts, log: opts.Logger.With("holder", opts.Holder),
		media: make(map[string][]string), lastData: make(map[string]time.Time)}
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run polls every interval until ctx is done, then releases the lease if it
// holds it and returns. Only the lease holder polls; the others retry the
// lease every interval and take over within its TTL when the holder stops.
func (p *Poller) Run(ctx context.Context) {
	defer p.release(ctx)
	for {
		start := p.opts.Clock.Now()
		_ = p.Cycle(ctx) // logged and counted by Cycle
		wait := p.interval() - p.opts.Clock.Now().Sub(start)
		t := time.NewTimer(max(wait, time.Second/10))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Cycle runs one poll if this replica holds (or takes) the lease; it does
// nothing when another replica holds it. Its errors are also logged, and
// count towards the stale-data warning.
func (p *Poller) Cycle(ctx context.Context) error {
	held, err := p.deps.Lease.AcquireLease(ctx, LeaseName, p.opts.Holder, p.leaseTTL())
	if err != nil {
		err = fmt.Errorf("genesys poller: lease: %w", err)
		if p.leader {
			// We were polling and cannot tell whether we still are: a gap.
			p.failed(ctx, err)
		}
		return err
	}
	if !held {
		if p.leader {
			p.log.Info("genesys poller lease lost to another replica")
		}
		p.leader = false
		return nil
	}
	if !p.leader {
		p.log.Info("genesys poller lease taken; polling")
		p.leader = true
		// Another replica polled meanwhile: ages from before are not ours.
		clear(p.lastData)
	}
	// Finish well within the lease TTL so a slow cycle never overlaps the
	// next holder's.
	pctx, cancel := context.WithTimeout(ctx, 2*p.interval())
	defer cancel()
	err = p.poll(pctx)
	if p.opts.Observer != nil {
		p.opts.Observer.PollCycle(err, p.opts.Clock.Now())
	}
	if err != nil {
		p.failed(ctx, err)
		return err
	}
	p.recovered(ctx)
	return nil
}

func (p *Poller) interval() time.Duration {
	chunks := (p.watched + maxPredicates - 1) / maxPredicates
	return max(p.opts.Interval, time.Duration(chunks)*time.Minute/maxObservationCallsPerMinute)
}

func (p *Poller) leaseTTL() time.Duration { return 3 * p.interval() }

func (p *Poller) release(ctx context.Context) {
	if !p.leader {
		return
	}
	p.leader = false
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.deps.Lease.ReleaseLease(rctx, LeaseName, p.opts.Holder); err != nil {
		p.log.Warn("genesys poller lease release failed; it expires by itself", "err", err)
		return
	}
	p.log.Info("genesys poller lease released")
}

// poll is one cycle's work.
func (p *Poller) poll(ctx context.Context) error {
	now := p.opts.Clock.Now()
	queues, err := p.directory(ctx, now)
	if err != nil {
		return err
	}
	thresholds, err := p.deps.Directory.Thresholds(ctx)
	if err != nil {
		return fmt.Errorf("genesys poller: load thresholds: %w", err)
	}
	watch := p.choose(queues, thresholds)
	p.watched = len(watch)
	p.watch = watch
	if iv := p.interval(); iv != p.opts.Interval && iv != p.stretched {
		p.log.Warn("genesys poll interval stretched to stay within the API rate limit; set GENESYS_QUEUES to watch fewer queues",
			"queues", len(watch), "interval", iv.String())
	}
	p.stretched = p.interval()
	if len(watch) == 0 {
		p.log.Debug("genesys poller: no queues to watch")
		return nil
	}
	ids := make([]string, len(watch))
	names := make(map[string]string, len(watch))
	for i, q := range watch {
		ids[i] = q.ID
		names[q.ID] = q.Name
	}
	chunks := slices.Collect(slices.Chunk(ids, maxPredicates))
	serverTime, obsErr := p.observe(ctx, now, chunks, names)
	if serverTime.IsZero() {
		serverTime = now
	}
	// Service levels run even when some observation chunks failed: they
	// are other queries, and often what a supervisor watches most.
	slErr := p.serviceLevels(ctx, now, serverTime, chunks, names)
	return errors.Join(obsErr, slErr)
}

// observe queries the observation chunks, starting at the one the last
// cycle could not reach. A failing chunk is logged and skipped. A 429
// pauses the cycle for its Retry-After when that ends within this cycle's
// interval (counted from start), and carries on with the same chunk;
// otherwise the cycle stops there and the next one starts at that chunk.
// serverTime is the last answer's Date (zero when none arrived).
func (p *Poller) observe(ctx context.Context, start time.Time, chunks [][]string, names map[string]string) (serverTime time.Time, err error) {
	first := p.next
	if first >= len(chunks) {
		first = 0
	}
	p.next = 0
	var errs []error
	pauses := 0
	for k := 0; k < len(chunks); k++ {
		i := (first + k) % len(chunks)
		events, at, err := p.c.Observations(ctx, chunks[i])
		if rl, ok := errors.AsType[*RateLimitError](err); ok {
			now := p.opts.Clock.Now()
			wait := rl.Until.Sub(now)
			if pauses < maxPauses && !now.Add(wait).After(start.Add(p.interval())) {
				pauses++
				p.log.Info("genesys rate limit: pausing the poll cycle", "wait", wait.String(), "chunk", i+1, "chunks", len(chunks))
				if err := p.opts.Sleep(ctx, wait); err != nil {
					return serverTime, errors.Join(append(errs, fmt.Errorf("genesys poller: pause for Retry-After: %w", err))...)
				}
				k-- // the same chunk again
				continue
			}
			p.next = i
			p.log.Warn("genesys rate limit outlasts the poll interval; the next cycle starts at the chunk not reached",
				"chunk", i+1, "chunks", len(chunks), "until", rl.Until)
			errs = append(errs, fmt.Errorf("genesys poller: %d of %d chunks not polled, from chunk %d: %w",
				len(chunks)-k, len(chunks), i+1, err))
			break
		}
		if err != nil {
			p.log.Warn("genesys observations chunk failed; going on with the next", "chunk", i+1, "chunks", len(chunks),
				"err", p.c.redact(err.Error()))
			errs = append(errs, fmt.Errorf("genesys poller: chunk %d of %d: %w", i+1, len(chunks), err))
			continue
		}
		serverTime = at
		received := p.opts.Clock.Now()
		for j := range events {
			p.fillMedia(&events[j])
			p.lastData[events[j].QueueID] = received
		}
		if err := p.ingest(ctx, events, names); err != nil {
			errs = append(errs, err)
		}
	}
	return serverTime, errors.Join(errs...)
}

// serviceLevels queries service levels when due, chunk by chunk, going on
// after a failing chunk (its queues wait for the next due time). A rate
// limit stops them and they are tried again next cycle.
func (p *Poller) serviceLevels(ctx context.Context, now, serverTime time.Time, chunks [][]string, names map[string]string) error {
	if now.Sub(p.lastServiceLevel) < p.opts.ServiceLevelEvery {
		return nil
	}
	var errs []error
	for i, chunk := range chunks {
		events, err := p.c.ServiceLevels(ctx, chunk, serverTime)
		if errors.Is(err, ErrRateLimited) {
			return errors.Join(append(errs, fmt.Errorf("genesys poller: service levels: %w", err))...)
		}
		if err != nil {
			p.log.Warn("genesys service-level chunk failed; going on with the next", "chunk", i+1, "chunks", len(chunks),
				"err", p.c.redact(err.Error()))
			errs = append(errs, fmt.Errorf("genesys poller: service levels chunk %d of %d: %w", i+1, len(chunks), err))
			continue
		}
		if err := p.ingest(ctx, events, names); err != nil {
			errs = append(errs, err)
		}
	}
	p.lastServiceLevel = now
	return errors.Join(errs...)
}

// directory returns the queue directory, refreshing it from Genesys Cloud
// when due. A failed refresh falls back to the stored directory and is
// tried again next cycle.
func (p *Poller) directory(ctx context.Context, now time.Time) ([]app.QueueInfo, error) {
	var refreshErr error
	if p.lastDirectory.IsZero() || now.Sub(p.lastDirectory) >= p.opts.DirectoryEvery {
		queues, err := p.c.Queues(ctx)
		if err == nil {
			if err := p.deps.Directory.SaveQueues(ctx, queues); err != nil {
				p.log.Warn("genesys queue directory not saved", "err", err)
			} else {
				p.lastDirectory = now
				p.log.Info("genesys queue directory refreshed", "queues", len(queues))
			}
			return queues, nil
		}
		refreshErr = err
		p.log.Warn("genesys queue directory refresh failed; using the stored one", "err", p.c.redact(err.Error()))
	}
	queues, err := p.deps.Directory.Queues(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("genesys poller: load queue directory: %w", err), refreshErr)
	}
	if len(queues) == 0 && refreshErr != nil {
		return nil, refreshErr
	}
	return queues, nil
}

// choose picks the queues to poll: GENESYS_QUEUES when set; otherwise the
// queues with their own threshold, plus every queue when a default
// threshold exists (a default applies to every queue, so watching only
// the queues with their own thresholds would silently drop it).
func (p *Poller) choose(queues []app.QueueInfo, thresholds []app.Threshold) []app.QueueInfo {
	if len(p.opts.Queues) > 0 {
		var chosen []app.QueueInfo
		var unknown []string
		for _, want := range p.opts.Queues {
			want = strings.TrimSpace(want)
			i := slices.IndexFunc(queues, func(q app.QueueInfo) bool { return strings.EqualFold(q.ID, want) })
			if i < 0 {
				i = slices.IndexFunc(queues, func(q app.QueueInfo) bool { return strings.EqualFold(q.Name, want) })
			}
			switch {
			case want == "":
			case i < 0:
				unknown = append(unknown, want)
			case !slices.ContainsFunc(chosen, func(q app.QueueInfo) bool { return q.ID == queues[i].ID }):
				chosen = append(chosen, queues[i])
			}
		}
		if u := strings.Join(unknown, ", "); u != p.unresolved {
			p.unresolved = u
			if u != "" {
				p.log.Warn("GENESYS_QUEUES names queues the directory does not have; they are not polled", "queues", u)
			}
		}
		return chosen
	}
	all := p.opts.BuiltinDefault
	own := make(map[string]bool)
	for _, t := range thresholds {
		if t.QueueID == app.DefaultQueue {
			all = true
		}
		own[t.QueueID] = true
	}
	if all {
		return queues
	}
	var chosen []app.QueueInfo
	for _, q := range queues {
		if own[q.ID] {
			chosen = append(chosen, q)
		}
	}
	return chosen
}

// fillMedia reports zero waiting for media types a queue had before but
// that are missing from this answer, so their alerts can resolve.
func (p *Poller) fillMedia(ev *app.Event) {
	var present []string
	for _, o := range ev.Observations {
		if o.Metric == app.Waiting && !slices.Contains(present, o.MediaType) {
			present = append(present, o.MediaType)
		}
	}
	for _, m := range p.media[ev.QueueID] {
		if !slices.Contains(present, m) {
			ev.Observations = append(ev.Observations,
				app.Observation{QueueID: ev.QueueID, MediaType: m, Metric: app.Waiting},
				app.Observation{QueueID: ev.QueueID, MediaType: m, Metric: app.LongestWait})
		}
	}
	for _, m := range present {
		if !slices.Contains(p.media[ev.QueueID], m) {
			p.media[ev.QueueID] = append(p.media[ev.QueueID], m)
		}
	}
}

// ingest feeds events to the engine with names from the directory. It
// goes on after a failure so one bad queue does not starve the others.
func (p *Poller) ingest(ctx context.Context, events []app.Event, names map[string]string) error {
	var first error
	failed := 0
	for _, ev := range events {
		ev.QueueName = names[ev.QueueID]
		if _, err := p.deps.Ingester.Ingest(ctx, ev); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("genesys poller: ingest: %d of %d events failed: %w", failed, len(events), first)
	}
	return nil
}
