package handlers

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Listings that never hide anything: /sla list and /sla status answer in
// one ephemeral message each, which Slack clips (maxReply), so a long
// listing is cut into pages rather than cut short. Every page shows every
// section's title and count, says where the section's other lines are,
// and names the command for the next page; no line is left out of all
// pages.

// listItem is one line of a listing, about one queue.
type listItem struct {
	// queueID is what the listing's queue filter matches.
	queueID string
	text    string
}

// listSection is one titled part of a listing ("Thresholds", "Open
// alerts"). A listing is a slice of sections, so a new one is one more
// append.
type listSection struct {
	title string // mrkdwn-safe, shown in bold
	items []listItem
	// empty is shown when the section has no items.
	empty string
	// note is shown once after the section's last item, or after its
	// title on the first page when it has none.
	note string
}

// listing is one answer of /sla list or /sla status, before paging.
type listing struct {
	// command is what a supervisor types for this listing, filter
	// included ("/sla status firing"); the page pointer adds "page N".
	command string
	// prelude is shown at the top of every page.
	prelude  []string
	sections []listSection
}

// pageBudget is how many runes a page may take: the reply clip, with room
// for the lines the page adds about itself.
const pageBudget = maxReply - 100

// sectionOverhead is what a section's title line may take beyond its
// title, at most: its count and where its other lines are.
const sectionOverhead = 80

// pageFooter bounds the page pointer's length.
const pageFooter = 160

func runes(s string) int { return utf8.RuneCountInString(s) }

// fixedCost is what every page spends before any item: the prelude, each
// section's title line, empty text and note, and the footer.
func (l listing) fixedCost() int {
	n := pageFooter + runes(l.command)
	for _, p := range l.prelude {
		n += runes(p) + 1
	}
	for _, s := range l.sections {
		n += runes(s.title) + sectionOverhead + runes(s.empty) + runes(s.note) + 3
	}
	return n
}

func itemCost(it listItem) int { return runes(it.text) + 1 }

// paginate assigns each item of each section to a page (0-based) and
// returns the assignment and the number of pages. The first page takes
// the shortest sections whole, as many as fit, so that a long section
// never pushes a short one off it; the other sections then run on in
// order, page after page.
func (l listing) paginate() (pageOf [][]int, pages int) {
	room := max(pageBudget-l.fixedCost(), 400)
	pageOf = make([][]int, len(l.sections))
	totals := make([]int, len(l.sections))
	order := make([]int, len(l.sections))
	for i, s := range l.sections {
		pageOf[i] = make([]int, len(s.items))
		for _, it := range s.items {
			totals[i] += itemCost(it)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(totals[a], totals[b]) })
	whole := make([]bool, len(l.sections))
	left, started := room, false
	for _, i := range order {
		if totals[i] > left {
			break
		}
		whole[i], left = true, left-totals[i]
		started = started || totals[i] > 0
	}
	page := 0
	for i, s := range l.sections {
		if whole[i] {
			continue
		}
		for j, it := range s.items {
			if c := itemCost(it); c > left && started {
				page, left, started = page+1, room, false
			}
			pageOf[i][j] = page
			left -= itemCost(it)
			started = true
		}
	}
	return pageOf, page + 1
}

// page renders page n (1-based) of the listing; a page past the end is
// answered with how many there are.
func (l listing) page(n int) string {
	pageOf, pages := l.paginate()
	if n < 1 {
		n = 1
	}
	if n > pages {
		if pages == 1 {
			return fmt.Sprintf("There is no page %d: everything fits on one page, `%s`.", n, l.command)
		}
		return fmt.Sprintf("There is no page %d: `%s` has %d pages; `%s page %d` is the last.", n, l.command, pages, l.command, pages)
	}
	p := n - 1
	lines := slices.Clone(l.prelude)
	for i, s := range l.sections {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		head := fmt.Sprintf("*%s* (%d)", s.title, len(s.items))
		lo, hi := -1, -1
		var elsewhere []int
		for j, pg := range pageOf[i] {
			switch {
			case pg == p && lo < 0:
				lo, hi = j, j+1
			case pg == p:
				hi = j + 1
			case !slices.Contains(elsewhere, pg):
				elsewhere = append(elsewhere, pg)
			}
		}
		last := len(s.items) > 0 && pageOf[i][len(s.items)-1] == p
		switch {
		case len(s.items) == 0 && s.empty != "":
			lines = append(lines, head, s.empty)
		case len(s.items) == 0:
			lines = append(lines, head)
		case lo < 0:
			lines = append(lines, head+": on "+pageWords(elsewhere)+".")
		case len(elsewhere) > 0:
			lines = append(lines, fmt.Sprintf("%s, %d–%d here (the rest on %s):", head, lo+1, hi, pageWords(elsewhere)))
		default:
			lines = append(lines, head)
		}
		for _, it := range s.items[max(lo, 0):max(hi, 0)] {
			lines = append(lines, it.text)
		}
		if s.note != "" && (last || (len(s.items) == 0 && p == 0)) {
			lines = append(lines, s.note)
		}
	}
	switch {
	case pages == 1:
	case n < pages:
		lines = append(lines, "", fmt.Sprintf("Page %d of %d: `%s page %d` for more.", n, pages, l.command, n+1))
	default:
		lines = append(lines, "", fmt.Sprintf("Page %d of %d, the last.", n, pages))
	}
	return strings.Join(lines, "\n")
}

// pageWords names pages (0-based) for people: "page 2", "pages 1, 3".
func pageWords(pages []int) string {
	words := make([]string, len(pages))
	for i, p := range pages {
		words[i] = strconv.Itoa(p + 1)
	}
	if len(words) == 1 {
		return "page " + words[0]
	}
	return "pages " + strings.Join(words, ", ")
}

// filtered keeps the items about one of queueIDs, in every section.
func (l listing) filtered(queueIDs ...string) listing {
	out := l
	out.sections = make([]listSection, len(l.sections))
	for i, s := range l.sections {
		s.items = slices.DeleteFunc(slices.Clone(s.items), func(it listItem) bool { return !slices.Contains(queueIDs, it.queueID) })
		out.sections[i] = s
	}
	return out
}
