package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/chartjob"
	"github.com/slabot/slabot/genesys"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/metrics"
	"github.com/slabot/slabot/slackapi"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/weekly"
)

// shutdownBudget keeps a SIGTERM exit inside Heroku's 30 s grace period.
const shutdownBudget = 20 * time.Second

// service is slabot wired together: the HTTP handler and the background
// loops that share one store.
type service struct {
	cfg        Config
	log        *slog.Logger
	store      *store.Redis
	engine     *engine.Engine
	dispatcher *dispatch.Dispatcher
	poller     *genesys.Poller
	handler    http.Handler
	holder     string
	metrics    *metrics.Metrics
	// socket carries Slack's requests in Socket Mode; nil over HTTP.
	socket *handlers.Socket
	guard  *store.MemoryGuard // nil on the embedded Redis
	clock  app.Clock
	// report posts the weekly SLA report when it is due (SLA_REPORT);
	// nil when no schedule is set. reportEvery is how often the replica
	// holding the "weekly-report" lease checks.
	report      func(context.Context) error
	reportEvery time.Duration
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// replicaID names this process in leases and the outbox consumer group.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// wiring is what build takes from its caller rather than the environment.
type wiring struct {
	stdout io.Writer // console messages in local mode
	log    *slog.Logger
	clock  app.Clock // default app.SystemClock; the demo drives its own
	// wrap, when set, wraps the Slack notifier, given the options a Slack
	// client gets (demo -json makes every call to a Slack stand-in too).
	wrap func(dispatch.Notifier, slackapi.Options) dispatch.Notifier
	// chartDir is where local mode writes charts; empty: a new
	// temporary folder.
	chartDir string
	// reportEvery is how often the weekly report is checked for being
	// due; default a minute (tests check more often).
	reportEvery time.Duration
}

// build wires slabot from cfg.
func build(ctx context.Context, cfg Config, w wiring) (*service, error) {
	stdout, log := w.stdout, w.log
	region, err := genesys.ResolveRegion(cfg.GenesysRegion)
	if err != nil {
		return nil, fmt.Errorf("GENESYS_REGION: %w", err)
	}
	m := metrics.New(nil)
	st, err := openStore(ctx, cfg, m.RedisError, log)
	if err != nil {
		return nil, err
	}
	m = m.WithGauges(st)
	s := &service{cfg: cfg, log: log, store: st, holder: replicaID(), metrics: m}
	var clock app.Clock = app.SystemClock{}
	if w.clock != nil {
		clock = w.clock
	}
	s.clock = clock

	var (
		notifier dispatch.Notifier
		home     handlers.HomePublisher
	)
	pace := cfg.SlackPostInterval
	// Charts are drawn when they are delivered, from the stored history
	// (a report's from its job).
	charts := &chartjob.Drawer{History: st, Episodes: st, Report: reportChart}
	if cfg.Local() {
		log.Warn("SLACK_BOT_TOKEN is not set: Slack messages are printed to the console, and unsigned webhooks and Slack requests are accepted (from this machine only)")
		console := slackapi.NewConsole(stdout, slackapi.ConsoleOptions{Mention: cfg.SlackMention, AppsURL: region.Apps, Logger: log,
			Charts: charts, ChartDir: w.chartDir})
		notifier, home = console, console
		pace = time.Millisecond
	}
	slackOpts := slackapi.Options{APIURL: cfg.SlackAPIURL, AppsURL: region.Apps, Mention: cfg.SlackMention, Charts: charts, Logger: log}
	if !cfg.Local() {
		client := slackapi.New(string(cfg.SlackBotToken), slackOpts)
		notifier, home = client, client
	}
	if w.wrap != nil {
		notifier = w.wrap(notifier, slackOpts)
	}

	var builtin *app.Threshold
	if cfg.DefaultLongestWait > 0 {
		builtin = &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: cfg.DefaultLongestWait.Seconds(), SetBy: "built-in"}
	}
	s.engine = engine.New(st, clock, engine.Options{Channel: cfg.SlackChannelID, BuiltinDefault: builtin,
		RemindAfter: cfg.RemindAfter, StormThreshold: cfg.StormThreshold, StormWindow: cfg.StormWindow,
		DedupWindow: cfg.DedupWindow, Observer: m, Logger: log})
	s.dispatcher = dispatch.New(st, notifier, clock, dispatch.Options{Consumer: s.holder, Pace: pace,
		Observer: m, Logger: log})

	// directory looks up queue names /sla is given before any event
	// named them; none without credentials.
	var directory handlers.QueueFinder
	if cfg.Polling() {
		client := genesys.NewClient(region, cfg.GenesysClientID, string(cfg.GenesysClientSecret), genesys.ClientOptions{Logger: log})
		directory = genesys.NewQueueNames(client, genesys.DefaultNameTTL, clock)
		s.poller = genesys.NewPoller(client, genesys.PollerDeps{
			Ingester: s.engine, Directory: st, Lease: st,
			Announcer: announcer{store: st, channel: cfg.SlackChannelID},
		}, genesys.PollerOptions{Interval: cfg.PollInterval, Queues: cfg.GenesysQueues, Holder: s.holder,
			BuiltinDefault: builtin != nil, Observer: m, Logger: log})
	}

	if cfg.RedisURL != "" {
		s.guard = &store.MemoryGuard{Store: st, Max: cfg.RedisMaxMemory, Logger: log, Now: clock.Now,
			Warn:    announcer{store: st, channel: cfg.SlackChannelID}.Announce,
			Observe: func(ms store.MemoryStatus, paused bool) { m.RedisMemory(ms.Used, ms.Max, paused) }}
	}

	reportZone := time.UTC
	if cfg.Report != nil {
		reportZone = cfg.Report.Zone
		// Charts show SLA_REPORT's time zone too.
		charts.Location = reportZone
		s.report = (&weekly.Reporter{Schedule: *cfg.Report, Channel: cfg.SlackChannelID, Source: st, Outbox: st,
			Clock: clock, Logger: log}).Tick
		s.reportEvery = cmp.Or(w.reportEvery, time.Minute)
		log.Info("weekly SLA report scheduled", "schedule", cfg.Report.String(), "channel_id", cfg.SlackChannelID)
	}

	deps := handlers.Deps{
		Ingester: s.engine,
		Store:    st,
		Webhook: handlers.WebhookAuth{Secret: string(cfg.WebhookSecret), Token: string(cfg.WebhookToken),
			AllowUnsigned: cfg.Local(), RequireTimestamp: cfg.RequireWebhookTimestamp},
		Queues:      st,
		QueueLimits: handlers.QueueLimits{Max: cfg.MaxQueues, Watch: cfg.GenesysQueues},
		Slack: handlers.SlackAuth{SigningSecret: string(cfg.SlackSigningSecret), TeamID: cfg.SlackTeamID,
			AllowUnsigned: cfg.Local()},
		Actions:        s.engine,
		Records:        st,
		Once:           st,
		Home:           home,
		Admins:         cfg.SLAAdmins,
		DefaultChannel: cfg.SlackChannelID,
		BuiltinDefault: builtin,
		Directory:      directory,
		Observer:       m,
		Metrics:        m.Handler(),
		Clock:          clock,
		Logger:         log,
		Reports:        st,
		ReportZone:     reportZone,
		Charts:         st,
	}
	if cfg.SocketMode() {
		s.socket = handlers.NewSocket(deps, handlers.SocketOptions{AppToken: string(cfg.SlackAppToken),
			APIURL: cfg.SlackAPIURL, Observer: m})
		deps.SocketMode = s.socket
		if cfg.WebhookSecret == "" && cfg.WebhookToken == "" && !cfg.Polling() {
			log.Warn("no Genesys input is configured (GENESYS_CLIENT_ID/SECRET for polling, or GENESYS_WEBHOOK_TOKEN for the webhook): /sla and the App Home work, but no alert can fire")
		}
	}
	s.handler = handlers.New(deps)
	return s, nil
}

func openStore(ctx context.Context, cfg Config, onError func(), log *slog.Logger) (*store.Redis, error) {
	if cfg.RedisURL == "" {
		log.Warn("REDIS_URL is not set: using an EMBEDDED IN-MEMORY Redis. All thresholds, alerts and snoozes are LOST when slabot stops, and replicas do not share state. Set REDIS_URL in production.")
		return store.NewEmbedded(ctx, store.Options{OnError: onError, Logger: log, DedupWindow: cfg.DedupWindow})
	}
	var prefix string
	if cfg.Local() {
		// loadConfig allows this only with SLABOT_LOCAL=1.
		prefix = LocalPrefix
		log.Warn("local mode on REDIS_URL (SLABOT_LOCAL=1): every key starts with " + LocalPrefix + ", so production state and its outbox are out of reach")
	}
	st, err := store.New(ctx, string(cfg.RedisURL), store.Options{Prefix: prefix, TLSInsecure: cfg.RedisTLSInsecure, OnError: onError, Logger: log,
		PoolSize: cfg.RedisPoolSize, DedupWindow: cfg.DedupWindow})
	if err != nil {
		return nil, fmt.Errorf("connect to REDIS_URL: %w", err)
	}
	return st, nil
}

// start runs the background loops until ctx is done; the returned func
// waits for them to finish.
func (s *service) start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() { runLeased(ctx, s.store, "engine-tick", s.holder, time.Second, s.engine.Tick, s.log) })
	wg.Go(func() { s.dispatcher.Run(ctx) })
	// History compaction: a pass a day per series, run where the lease is.
	wg.Go(func() {
		runLeased(ctx, s.store, "history-compact", s.holder, time.Minute, func(ctx context.Context) error {
			_, err := s.store.CompactHistory(ctx, s.clock.Now())
			return err
		}, s.log)
	})
	// Queues nobody configured that sent no data for 8 days are forgotten.
	wg.Go(func() {
		runLeased(ctx, s.store, "queue-expiry", s.holder, 10*time.Minute, func(ctx context.Context) error {
			n, err := s.store.ExpireQueues(ctx, s.clock.Now())
			if n > 0 {
				s.log.Info("forgot idle queues", "queues", n)
			}
			return err
		}, s.log)
	})
	// The weekly report: the lease keeps the work on one replica; its
	// period mark, set with the post in one step, makes it exactly once.
	if s.report != nil {
		wg.Go(func() { runLeased(ctx, s.store, "weekly-report", s.holder, s.reportEvery, s.report, s.log) })
	}
	if s.guard != nil {
		wg.Go(func() { s.guard.Run(ctx, 15*time.Second) })
	}
	if s.poller != nil {
		wg.Go(func() { s.poller.Run(ctx) })
	}
	if s.socket != nil {
		wg.Go(func() { s.socket.Run(ctx) })
	}
	return wg.Wait
}

// leaser takes and gives up named leases (*store.Redis).
type leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// runLeased calls fn every interval while this replica holds the named
// lease, so time-driven work (pending alerts firing, reminders, snooze
// expiry) runs on one replica at a time; the lease moves to another replica
// within five intervals of this one stopping. Its effects are compare-and-set
// anyway, so a brief overlap during a hand-over changes nothing twice. It
// returns when ctx is done, after releasing the lease.
func runLeased(ctx context.Context, l leaser, name, holder string, interval time.Duration, fn func(context.Context) error, log *slog.Logger) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = l.ReleaseLease(rctx, name, holder)
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tctx, cancel := context.WithTimeout(ctx, 5*interval)
		held, err := l.AcquireLease(tctx, name, holder, 5*interval)
		if err == nil && held {
			err = fn(tctx)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("background work failed", "lease", name, "err", err)
		}
	}
}

// serve runs slabot until ctx is done, then shuts down gracefully: it stops
// accepting, finishes in-flight requests and the Slack call in progress,
// releases its leases, and returns within shutdownBudget.
func serve(ctx context.Context, cfg Config, stdout io.Writer) error {
	gin.SetMode(gin.ReleaseMode)
	log := newLogger(stdout, cfg.LogLevel)
	svc, err := build(ctx, cfg, wiring{stdout: stdout, log: log})
	if err != nil {
		return err
	}
	defer svc.store.Close()

	ln, err := net.Listen("tcp", listenAddr(cfg))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	srv := &http.Server{
		Handler:           svc.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	wait := svc.start(bg)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("slabot listening", "addr", ln.Addr().String(), "local", cfg.Local(), "polling", cfg.Polling(), "socket_mode", cfg.SocketMode())

	select {
	case err := <-errc:
		stopBG()
		wait()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown incomplete", "err", err)
	}
	stopBG()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Warn("background work did not stop in time")
	}
	log.Info("stopped")
	return nil
}

// listenAddr is where slabot listens: every interface in production, the
// loopback interface only in local mode, whose routes accept unsigned
// requests.
func listenAddr(cfg Config) string {
	if cfg.Local() {
		return fmt.Sprintf("127.0.0.1:%d", cfg.Port)
	}
	return fmt.Sprintf(":%d", cfg.Port)
}

// announcer posts operator announcements (stale Genesys data) through the
// durable outbox, to the default channel.
type announcer struct {
	store   *store.Redis
	channel string
}

// Announce enqueues text, escaped for mrkdwn, for the default channel.
func (a announcer) Announce(ctx context.Context, text string) error {
	return a.store.Enqueue(ctx, app.Notification{Kind: app.KindAnnounce, Channel: a.channel,
		Text: slackapi.Escape(text), At: time.Now()})
}
