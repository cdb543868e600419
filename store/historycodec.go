package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/slabot/slabot/app"
)

// The compact encoding of metric history (compact.go writes it,
// MetricHistory reads it). A point is a code as the raw day strings hold
// it (encodePoint; noPoint for a minute without data), so the compactor
// moves points between the two layouts without touching their values.
//
// A block is one day of one series at one step (a point per step minutes)
// and encodes its points as a stream of runs, each a uvarint header
// n<<2 | kind followed by the run's body:
//
//	runGap    n points without data; no body.
//	runRamp   a zigzag varint d: n points, each the previous point + d
//	          (a repeat is a ramp with d = 0; a longest wait that grows by
//	          60 s a minute is one too).
//	runPacked a width byte w ≤ 17, then n zigzag deltas from the previous
//	          point, w bits each, least significant bit first, in
//	          ⌈n·w/8⌉ bytes: noisy values cost their noise, not 2 bytes.
//
// "Previous point" is the last point with data before this one, across
// gaps; before the first it is 0.
const (
	runGap = iota
	runRamp
	runPacked

	// minRamp is the shortest ramp worth its own run inside noisy values:
	// a ramp costs two or three bytes, and cuts the packed run around it.
	minRamp = 5
	// maxPacked bounds a packed run, so that one outlier widens only the
	// deltas of its own run.
	maxPacked = 24
	maxWidth  = 17 // a zigzag delta between two uint16 codes fits in 17 bits
)

// errCorrupt is a compact history that does not decode.
var errCorrupt = errors.New("corrupt compact history")

func zigzag(d int32) uint32   { return uint32(d<<1) ^ uint32(d>>31) }
func unzigzag(u uint32) int32 { return int32(u>>1) ^ -int32(u&1) }

// appendBlock appends the encoding of pts to dst.
func appendBlock(dst []byte, pts []uint16) []byte {
	n := len(pts)
	// same[i]: how many points from i on, all with data, step by the same
	// delta from the previous point (pts[i]'s own delta included).
	delta := make([]int32, n)
	prev := int32(0)
	for i, p := range pts {
		if p != noPoint {
			delta[i], prev = int32(p)-prev, int32(p)
		}
	}
	same := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		if pts[i] == noPoint {
			continue
		}
		same[i] = 1
		if i+1 < n && pts[i+1] != noPoint && delta[i+1] == delta[i] {
			same[i] += same[i+1]
		}
	}
	for i := 0; i < n; {
		switch {
		case pts[i] == noPoint:
			j := i
			for j < n && pts[j] == noPoint {
				j++
			}
			dst = binary.AppendUvarint(dst, runHeader(j-i, runGap))
			i = j
		case same[i] >= minRamp || same[i] == n-i || (same[i] > 1 && (i+same[i] == n || pts[i+same[i]] == noPoint)):
			k := same[i]
			dst = binary.AppendUvarint(dst, runHeader(k, runRamp))
			dst = binary.AppendUvarint(dst, uint64(zigzag(delta[i])))
			i += k
		default:
			j := i
			for j < n && j-i < maxPacked && pts[j] != noPoint && (j == i || same[j] < minRamp) {
				j++
			}
			dst = appendPacked(dst, delta[i:j])
			i = j
		}
	}
	return dst
}

func appendPacked(dst []byte, ds []int32) []byte {
	var or uint32
	for _, d := range ds {
		or |= zigzag(d)
	}
	w := bits.Len32(or)
	dst = binary.AppendUvarint(dst, runHeader(len(ds), runPacked))
	dst = append(dst, byte(w))
	var acc uint64
	nb := 0
	for _, d := range ds {
		acc |= uint64(zigzag(d)) << nb
		nb += w
		for nb >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// decodeBlock decodes exactly n points from src into a new slice.
func decodeBlock(src []byte, n int) ([]uint16, error) {
	pts := make([]uint16, 0, n)
	prev := int32(0)
	put := func(v int32) error {
		if v <= noPoint || v > 0xFFFF {
			return fmt.Errorf("%w: point %d out of range", errCorrupt, v)
		}
		pts, prev = append(pts, uint16(v)), v
		return nil
	}
	for len(src) > 0 {
		h, k := binary.Uvarint(src)
		if k <= 0 {
			return nil, fmt.Errorf("%w: bad run header", errCorrupt)
		}
		src = src[k:]
		kind, cnt := h&3, h>>2
		if cnt == 0 || cnt > uint64(n-len(pts)) {
			return nil, fmt.Errorf("%w: run of %d points past the block's %d", errCorrupt, cnt, n)
		}
		switch kind {
		case runGap:
			pts = append(pts, make([]uint16, cnt)...)
		case runRamp:
			z, k := binary.Uvarint(src)
			if k <= 0 || z > 1<<maxWidth {
				return nil, fmt.Errorf("%w: bad ramp", errCorrupt)
			}
			src = src[k:]
			d := unzigzag(uint32(z))
			for range cnt {
				if err := put(prev + d); err != nil {
					return nil, err
				}
			}
		case runPacked:
			if len(src) == 0 || src[0] > maxWidth {
				return nil, fmt.Errorf("%w: bad packed width", errCorrupt)
			}
			w := int(src[0])
			nbytes := (int(cnt)*w + 7) / 8
			if len(src)-1 < nbytes {
				return nil, fmt.Errorf("%w: packed run cut short", errCorrupt)
			}
			body := src[1 : 1+nbytes]
			src = src[1+nbytes:]
			var acc uint64
			nb, mask := 0, uint64(1)<<w-1
			for range cnt {
				for nb < w {
					acc |= uint64(body[0]) << nb
					body, nb = body[1:], nb+8
				}
				if err := put(prev + unzigzag(uint32(acc&mask))); err != nil {
					return nil, err
				}
				acc >>= w
				nb -= w
			}
		default:
			return nil, fmt.Errorf("%w: unknown run kind %d", errCorrupt, kind)
		}
	}
	if len(pts) != n {
		return nil, fmt.Errorf("%w: %d points, want %d", errCorrupt, len(pts), n)
	}
	return pts, nil
}

// histBlock is one day of a series at one step: Points[i] is the point
// of minutes Day·dayMinutes + i·Step … + Step − 1.
type histBlock struct {
	Day    int64
	Step   int
	Points []uint16
}

// compactVersion starts every compact history string.
const compactVersion = 1

// encodeCompact is a series' compact history: a version byte, the day of
// the pass that wrote it (asOf), then its blocks in order of day, each as
// uvarint day, uvarint step, uvarint length and the block's encoding.
// Blocks without any point are left out.
func encodeCompact(asOf int64, blocks []histBlock) []byte {
	blocks = slices.Clone(blocks)
	slices.SortFunc(blocks, func(a, b histBlock) int { return int(a.Day - b.Day) })
	out := binary.AppendUvarint([]byte{compactVersion}, uint64(asOf))
	var enc []byte
	for _, b := range blocks {
		if !slices.ContainsFunc(b.Points, func(p uint16) bool { return p != noPoint }) {
			continue
		}
		enc = appendBlock(enc[:0], b.Points)
		out = binary.AppendUvarint(out, uint64(b.Day))
		out = binary.AppendUvarint(out, uint64(b.Step))
		out = binary.AppendUvarint(out, uint64(len(enc)))
		out = append(out, enc...)
	}
	return out
}

// compactAsOf reads only the header of a compact history (GETRANGE).
func compactAsOf(b []byte) (int64, bool) {
	if len(b) < 2 || b[0] != compactVersion {
		return 0, false
	}
	d, k := binary.Uvarint(b[1:])
	return int64(d), k > 0
}

// validStep reports whether a block's step divides a day.
func validStep(s uint64) bool { return s >= 1 && s <= dayMinutes && dayMinutes%s == 0 }

// decodeCompact reads what encodeCompact wrote. Only blocks for which
// want reports true are decoded (want nil: all); the others are checked
// for framing only.
func decodeCompact(b []byte, want func(day int64) bool) (asOf int64, blocks []histBlock, err error) {
	if len(b) == 0 || b[0] != compactVersion {
		return 0, nil, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	b = b[1:]
	read := func() (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, fmt.Errorf("%w: bad varint", errCorrupt)
		}
		b = b[k:]
		return v, nil
	}
	a, err := read()
	if err != nil {
		return 0, nil, err
	}
	for len(b) > 0 {
		day, err := read()
		if err != nil {
			return 0, nil, err
		}
		step, err := read()
		if err != nil {
			return 0, nil, err
		}
		size, err := read()
		if err != nil {
			return 0, nil, err
		}
		if !validStep(step) || size > uint64(len(b)) || day > 1<<40 {
			return 0, nil, fmt.Errorf("%w: bad block header", errCorrupt)
		}
		body := b[:size]
		b = b[size:]
		if want != nil && !want(int64(day)) {
			continue
		}
		pts, err := decodeBlock(body, dayMinutes/int(step))
		if err != nil {
			return 0, nil, err
		}
		blocks = append(blocks, histBlock{Day: int64(day), Step: int(step), Points: pts})
	}
	return int64(a), blocks, nil
}

// minutes returns b's points one a minute (a coarse point repeated over
// its step).
func (b histBlock) minutes() []uint16 {
	if b.Step == 1 {
		return b.Points
	}
	out := make([]uint16, 0, dayMinutes)
	for _, p := range b.Points {
		for range b.Step {
			out = append(out, p)
		}
	}
	return out
}

// coarsen turns a day of minute points into one point per step minutes:
// the worst of them for metric m (the highest, or the lowest for metrics
// that breach below), so that a preview still sees every breach that
// lasted a minute, if not for how long within its step.
func coarsen(m app.Metric, pts []uint16, step int) []uint16 {
	out := make([]uint16, len(pts)/step)
	below := m.BreachesBelow()
	for i := range out {
		w := uint16(noPoint)
		for _, p := range pts[i*step : (i+1)*step] {
			switch {
			case p == noPoint:
			case w == noPoint, below && p < w, !below && p > w:
				w = p
			}
		}
		out[i] = w
	}
	return out
}

// runHeader is a run's header: its length and its kind in the low 2 bits.
func runHeader(n int, kind uint64) uint64 { return uint64(n)<<2 | kind }
