// Command load is slabot's load harness. It builds slabot and the
// baseline (bench/baseline), starts a private redis-server per measurement
// and a recording fake of the Slack Web API, and drives POST
// /webhook/genesys with authenticated metric events over 8 and 64
// keep-alive connections, baseline and slabot interleaved, several runs
// each. It prints the medians and slabot's ratios to the baseline as a
// Markdown table, then batched ingestion, breach-to-Slack latency and
// memory with many open alerts.
//
//	go run ./bench/cmd/load               # 3 runs of 15 s per measurement (about 6 minutes)
//	go run ./bench/cmd/load -quick        # one short run of everything: a smoke test
//	go run ./bench/cmd/load -duration 30s -runs 5 -out /tmp/bench.md
//
// All traffic stays on 127.0.0.1 and Unix sockets; every loop is bounded
// by a count or a duration.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slabot/slabot/bench/rig"
	"github.com/slabot/slabot/internal/slabotbin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// config is the harness's flags.
type config struct {
	duration, warmup time.Duration
	runs             int
	conc             []int
	queues           int
	batch            int
	latencySamples   int
	openAlerts       int
	slabotBin        string
	slabotEnv        []string
	profileDir       string
	out              string
	keep             bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "measured time per run and concurrency")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measurement")
	fs.IntVar(&c.runs, "runs", 3, "runs of each measurement; the table shows medians")
	concs := fs.String("conc", "8,64", "concurrent connections, comma-separated")
	fs.IntVar(&c.queues, "queues", 1000, "distinct queues in the workload")
	fs.IntVar(&c.batch, "batch", 100, "events per request in the batched measurement")
	fs.IntVar(&c.latencySamples, "latency-samples", 200, "breaches timed for breach-to-Slack latency")
	fs.IntVar(&c.openAlerts, "open-alerts", 10_000, "alerts opened for the memory measurement")
	quick := fs.Bool("quick", false, "smoke test: one run of 2 s each, fewer samples")
	fs.StringVar(&c.slabotBin, "slabot-bin", "", "use this slabot binary instead of building ./cmd/slabot")
	env := fs.String("slabot-env", "", "extra KEY=value variables for slabot, comma-separated")
	fs.StringVar(&c.profileDir, "profile", "", "save CPU and allocation profiles of slabot's first run here (needs a binary serving /debug/pprof)")
	fs.StringVar(&c.out, "out", "", "also write the report to this file")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory (logs) after the run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *quick {
		c.duration, c.warmup, c.runs, c.latencySamples, c.openAlerts = 2*time.Second, 500*time.Millisecond, 1, 30, 1000
	}
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return c, fmt.Errorf("-conc: %q is not a connection count", s)
		}
		c.conc = append(c.conc, n)
	}
	if *env != "" {
		c.slabotEnv = strings.Split(*env, ",")
	}
	if c.runs < 1 || c.duration <= 0 || c.queues < 1 || c.batch < 1 || c.latencySamples < 1 || c.openAlerts < 1 {
		return c, errors.New("-runs, -duration, -queues, -batch, -latency-samples and -open-alerts must be positive")
	}
	return c, nil
}

// harness holds the binaries and the working directory.
type harness struct {
	cfg         config
	dir         string
	slabotBin   string
	baselineBin string
	seq         int
	log         io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "slb") // short: Unix socket paths are limited to 108 bytes
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintln(stderr, "working directory (kept):", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	h := &harness{cfg: cfg, dir: dir, slabotBin: cfg.slabotBin, baselineBin: filepath.Join(dir, "baseline"), log: stderr}
	fmt.Fprintln(stderr, "building slabot and the baseline…")
	if h.slabotBin == "" {
		h.slabotBin = filepath.Join(dir, "slabot")
		if err := slabotbin.Build(ctx, slabotbin.Package, h.slabotBin, false); err != nil {
			return err
		}
	}
	if err := slabotbin.Build(ctx, "github.com/slabot/slabot/bench/baseline", h.baselineBin, false); err != nil {
		return err
	}
	rep, err := h.measure(ctx)
	if err != nil {
		return err
	}
	var sb strings.Builder
	rep.write(&sb, cfg)
	fmt.Fprint(stdout, sb.String())
	if cfg.out != "" {
		return os.WriteFile(cfg.out, []byte(sb.String()), 0o644)
	}
	return nil
}

// measure runs every measurement: for each run and concurrency the
// baseline and slabot back to back (alternating which goes first), then
// slabot's batched ingestion; then latency and open-alert memory once.
func (h *harness) measure(ctx context.Context) (*report, error) {
	rep := &report{}
	for r := range h.cfg.runs {
		for ci, c := range h.cfg.conc {
			targets := []string{"baseline", "slabot"}
			if (r+ci)%2 == 1 {
				targets = []string{"slabot", "baseline"}
			}
			for _, t := range targets {
				res, err := h.single(ctx, t, c, 1, r == 0)
				if err != nil {
					return nil, fmt.Errorf("%s c%d run %d: %w", t, c, r+1, err)
				}
				fmt.Fprintln(h.log, res)
				rep.add(res)
			}
		}
		res, err := h.single(ctx, "slabot", h.cfg.conc[0], h.cfg.batch, r == 0)
		if err != nil {
			return nil, fmt.Errorf("batched run %d: %w", r+1, err)
		}
		fmt.Fprintln(h.log, res)
		rep.add(res)
	}
	for _, bg := range []bool{false, true} {
		lat, err := h.latencyProbe(ctx, h.cfg.latencySamples, bg)
		if err != nil {
			return nil, fmt.Errorf("latency (%v): %w", bg, err)
		}
		fmt.Fprintf(h.log, "breach-to-Slack %s: p50 %.1fms p99 %.1fms max %.1fms, %d/%d delivered\n",
			lat.label, ms(lat.p50), ms(lat.p99), ms(lat.max), lat.delivered, lat.samples)
		rep.latency = append(rep.latency, lat)
	}
	open, err := h.openAlertsProbe(ctx, h.cfg.openAlerts)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	fmt.Fprintf(h.log, "%d open alerts: rss %.1fMB (peak %.1fMB), redis %.1fMB\n", open.alerts, open.rssMB, open.maxRSSMB, open.redisMemoryMB)
	rep.open = open
	return rep, nil
}

// single measures one target at conc connections with batch events per
// request on a fresh Redis.
func (h *harness) single(ctx context.Context, target string, conc, batch int, first bool) (result, error) {
	fake, err := rig.NewFakeSlack(rig.BotToken)
	if err != nil {
		return result{}, err
	}
	defer fake.Close()
	var (
		red  *rig.Redis
		proc *rig.Process
		url  string
	)
	if target == "baseline" {
		red, proc, url, err = h.startBaseline(ctx)
	} else {
		var bot *rig.Slabot
		red, bot, err = h.startSlabot(ctx, target, fake.URL)
		if bot != nil {
			proc, url = bot.Process, bot.URL
		}
	}
	if err != nil {
		return result{}, err
	}
	defer red.Close()
	defer proc.Kill()

	phase := "single"
	if batch > 1 {
		phase = "batch" + strconv.Itoa(batch)
	}
	h.seq++
	w := &workload{runID: fmt.Sprintf("r%d", h.seq), queues: h.cfg.queues, batch: batch}
	stopProfile := func() {}
	if first && target == "slabot" && h.cfg.profileDir != "" {
		stopProfile = h.profile(ctx, url, fmt.Sprintf("%s-c%d", phase, conc))
	}
	s, err := drive(ctx, url, conc, w, h.cfg.warmup, h.cfg.duration, proc, red)
	stopProfile()
	if err != nil {
		return result{}, err
	}
	if first {
		h.commandStats(ctx, red, fmt.Sprintf("%s %s c%d", target, phase, conc), s.all)
	}
	if err := proc.Stop(5 * time.Second); err != nil {
		fmt.Fprintf(h.log, "warning: %v\n", err)
	}
	return reduce(target, phase, conc, batch, s), nil
}

func (h *harness) redis(ctx context.Context, name string) (*rig.Redis, error) {
	h.seq++
	dir := filepath.Join(h.dir, fmt.Sprintf("%s%d", name[:1], h.seq))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return rig.StartRedis(ctx, dir, rig.RedisOptions{})
}

func (h *harness) startSlabot(ctx context.Context, name, slackURL string) (*rig.Redis, *rig.Slabot, error) {
	red, err := h.redis(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	bot, err := rig.StartSlabot(ctx, rig.SlabotOptions{Bin: h.slabotBin, Dir: h.dir, Name: fmt.Sprintf("%s-%d", name, h.seq),
		RedisURL: red.URL, SlackURL: slackURL, Env: h.cfg.slabotEnv})
	if err != nil {
		red.Close()
		return nil, nil, err
	}
	return red, bot, nil
}

func (h *harness) startBaseline(ctx context.Context) (*rig.Redis, *rig.Process, string, error) {
	red, err := h.redis(ctx, "baseline")
	if err != nil {
		return nil, nil, "", err
	}
	port, err := rig.FreePort()
	if err != nil {
		red.Close()
		return nil, nil, "", err
	}
	p, err := rig.Start("baseline", h.baselineBin, nil, []string{"PORT=" + strconv.Itoa(port), "REDIS_URL=" + red.URL,
		"GENESYS_WEBHOOK_TOKEN=" + rig.WebhookToken}, filepath.Join(h.dir, fmt.Sprintf("baseline-%d.log", h.seq)))
	if err != nil {
		red.Close()
		return nil, nil, "", err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := rig.WaitHTTP(ctx, url+"/readyz", p, 10*time.Second); err != nil {
		p.Kill()
		red.Close()
		return nil, nil, "", err
	}
	return red, p, url, nil
}

// commandStats logs where Redis spent its time, per request, by command
// (INFO commandstats; commands run inside scripts count separately).
func (h *harness) commandStats(ctx context.Context, red *rig.Redis, label string, requests int) {
	info, err := red.Info(ctx, "commandstats")
	if err != nil || requests == 0 {
		return
	}
	type stat struct {
		cmd         string
		calls, usec float64
	}
	var stats []stat
	for k, v := range info {
		if cmd, ok := strings.CutSuffix(k, ".calls"); ok {
			stats = append(stats, stat{strings.TrimPrefix(cmd, "cmdstat_"), v, info[cmd+".usec"]})
		}
	}
	slices.SortFunc(stats, func(a, b stat) int { return cmp.Compare(b.usec, a.usec) })
	var parts []string
	for _, s := range stats[:min(len(stats), 12)] {
		parts = append(parts, fmt.Sprintf("%s %.2f×/%.1fµs", s.cmd, s.calls/float64(requests), s.usec/float64(requests)))
	}
	fmt.Fprintf(h.log, "redis commands per request, %s: %s\n", label, strings.Join(parts, ", "))
}
