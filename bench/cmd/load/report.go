package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report gathers every measurement for the final table.
type report struct {
	results []result
	latency []latencyResult
	open    openResult
}

func (r *report) add(res result) { r.results = append(r.results, res) }

// median of one figure over the runs of target and phase at conc.
func (r *report) median(target, phase string, conc int, figure func(result) float64) (float64, int) {
	var vs []float64
	for _, res := range r.results {
		if res.target == target && res.phase == phase && res.conc == conc {
			vs = append(vs, figure(res))
		}
	}
	if len(vs) == 0 {
		return 0, 0
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], len(vs)
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, len(vs)
}

// row is one line of the table: a figure for the baseline and slabot,
// the ratio, and the target the ratio (or slabot's figure) must meet.
type row struct {
	name      string
	base, bot float64
	unit      string
	target    string
	met       func(base, bot float64) bool
}

func (r row) write(w io.Writer) {
	ratio, baseCol := "", "—"
	if r.base > 0 {
		ratio = fmt.Sprintf("%.2f×", r.bot/r.base)
		baseCol = num(r.base) + r.unit
	}
	verdict := ""
	if r.met != nil {
		verdict = "✘ missed"
		if r.met(r.base, r.bot) {
			verdict = "✔ met"
		}
	}
	fmt.Fprintf(w, "| %s | %s | %s%s | %s | %s | %s |\n", r.name, baseCol, num(r.bot), r.unit, ratio, r.target, verdict)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func (r *report) write(w io.Writer, cfg config) {
	cpu := cpuModel()
	fmt.Fprintf(w, "\n## Results (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s, %s. Medians of %d runs of %s each (after %s warm-up), "+
		"baseline and slabot interleaved; %d queues; a fresh redis-server per measurement.\n\n",
		runtime.NumCPU(), cpu, memTotal(), runtime.Version(), cfg.runs, cfg.duration, cfg.warmup, cfg.queues)
	fmt.Fprintln(w, "| measurement | baseline | slabot | slabot ÷ baseline | target | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, c := range cfg.conc {
		get := func(target string, f func(result) float64) float64 {
			v, _ := r.median(target, "single", c, f)
			return v
		}
		pair := func(name, unit, target string, f func(result) float64, met func(b, s float64) bool) {
			row{name: fmt.Sprintf("c%d %s", c, name), base: get("baseline", f), bot: get("slabot", f), unit: unit, target: target, met: met}.write(w)
		}
		pair("requests/s", "", "≥ 0.8×", func(x result) float64 { return x.reqPerSec }, func(b, s float64) bool { return s >= 0.8*b })
		pair("p50 latency", " ms", "", func(x result) float64 { return ms(x.p50) }, nil)
		pair("p99 latency", " ms", "≤ 1.5×", func(x result) float64 { return ms(x.p99) }, func(b, s float64) bool { return s <= 1.5*b })
		pair("server CPU per request", " µs", "", func(x result) float64 { return x.cpuPerReq }, nil)
		pair("Redis CPU per request", " µs", "", func(x result) float64 { return x.redisPerReq }, nil)
		pair("Redis commands per request", "", "", func(x result) float64 { return x.cmdsPerReq }, nil)
		var rss func(b, s float64) bool
		target := ""
		if c == slices.Max(cfg.conc) {
			rss, target = func(_, s float64) bool { return s <= 40 }, "≤ 40 MB"
		}
		pair("RSS at the end", " MB", target, func(x result) float64 { return x.rssMB }, rss)
	}
	c := cfg.conc[0]
	base, _ := r.median("baseline", "single", c, func(x result) float64 { return x.reqPerSec })
	phase := fmt.Sprintf("batch%d", cfg.batch)
	if cfg.batch > 1 {
		ev, _ := r.median("slabot", phase, c, func(x result) float64 { return x.eventsPerSec })
		row{name: fmt.Sprintf("c%d batched ingestion (%d events/request), events/s vs baseline single-event requests/s", c, cfg.batch),
			base: base, bot: ev, target: "≥ 4×", met: func(b, s float64) bool { return s >= 4*b }}.write(w)
		p99, _ := r.median("slabot", phase, c, func(x result) float64 { return ms(x.p99) })
		row{name: fmt.Sprintf("c%d batched p99 per request", c), bot: p99, unit: " ms"}.write(w)
	}
	for _, l := range r.latency {
		p99 := row{name: fmt.Sprintf("breach-to-Slack p99, %s", l.label), bot: ms(l.p99), unit: " ms"}
		if l.label == "idle" {
			p99.target = "p99 ≤ 50 ms, all delivered"
			p99.met = func(_, s float64) bool { return l.delivered == l.samples && s <= 50 }
		}
		row{name: fmt.Sprintf("breach-to-Slack p50, %s (%d/%d delivered within 10 s)", l.label, l.delivered, l.samples), bot: ms(l.p50), unit: " ms"}.write(w)
		p99.write(w)
	}
	o := r.open
	row{name: fmt.Sprintf("slabot RSS with %d open alerts (slabot_open_alerts %.0f; peak %.1f MB; Redis used_memory %.1f MB)",
		o.alerts, o.open, o.maxRSSMB, o.redisMemoryMB), bot: o.rssMB, unit: " MB"}.write(w)

	fmt.Fprintln(w, "\nEvery measurement:")
	fmt.Fprintln(w, "\n```")
	for _, res := range r.results {
		fmt.Fprintln(w, res)
	}
	fmt.Fprintln(w, "```")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown memory"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return "unknown memory"
}

// profile records slabot's CPU profile while a measurement runs and its
// allocation profile after; it needs a binary that serves
// net/http/pprof under /debug/pprof (a private build, never the shipped
// one). The returned func waits for the profiles to be saved.
func (h *harness) profile(ctx context.Context, url, name string) func() {
	secs := max(int((h.cfg.warmup+h.cfg.duration)/time.Second)-1, 1)
	done := make(chan struct{})
	save := func(path, file string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintf(h.log, "warning: profile %s: %v\n", path, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(h.log, "warning: profile %s: %s (does this slabot serve /debug/pprof?)\n", path, resp.Status)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		if err := os.MkdirAll(h.cfg.profileDir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(h.cfg.profileDir, file), b, 0o644)
		}
	}
	go func() {
		defer close(done)
		save(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), name+".cpu.pprof")
	}()
	return func() {
		<-done
		save("/debug/pprof/allocs", name+".allocs.pprof")
	}
}
