package store

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/slabot/slabot/app"
)

// dayShapes are days of minute points of the kinds history holds.
func dayShapes(rng *rand.Rand) map[string][]uint16 {
	shapes := map[string][]uint16{
		"empty":   make([]uint16, dayMinutes),
		"single":  make([]uint16, dayMinutes),
		"flat":    make([]uint16, dayMinutes),
		"zeros":   make([]uint16, dayMinutes),
		"ramps":   make([]uint16, dayMinutes),
		"noisy":   make([]uint16, dayMinutes),
		"wild":    make([]uint16, dayMinutes),
		"extreme": make([]uint16, dayMinutes),
		"gappy":   make([]uint16, dayMinutes),
	}
	shapes["single"][700] = 42
	for i := range dayMinutes {
		shapes["flat"][i] = 1234
		shapes["zeros"][i] = 1
		shapes["wild"][i] = uint16(1 + rng.IntN(0xFFFF))
		shapes["extreme"][i] = []uint16{1, 0xFFFF}[i%2]
	}
	w := uint16(1)
	for i := range dayMinutes {
		if i%17 == 0 {
			w = 1
		}
		shapes["ramps"][i], w = w, w+60
	}
	v := 5000
	for i := 8 * 60; i < 20*60; i++ {
		v = max(1, min(0xFFFF, v+rng.IntN(301)-150))
		shapes["noisy"][i] = uint16(v)
		if rng.IntN(5) > 0 {
			shapes["gappy"][i] = uint16(v)
		}
	}
	return shapes
}

func TestBlockRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, pts := range dayShapes(rng) {
		t.Run(name, func(t *testing.T) {
			enc := appendBlock(nil, pts)
			got, err := decodeBlock(enc, len(pts))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, pts) {
				t.Fatalf("decoded points differ from the encoded ones")
			}
			t.Logf("%s: %d bytes", name, len(enc))
		})
	}
	// Compact where it should be: a flat day, an empty one, ramps.
	shapes := dayShapes(rng)
	for name, most := range map[string]int{"empty": 3, "flat": 8, "zeros": 8, "ramps": 600, "single": 8} {
		if n := len(appendBlock(nil, shapes[name])); n > most {
			t.Errorf("%s day: %d bytes, want at most %d", name, n, most)
		}
	}
}

func TestBlockRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := 1 + rng.IntN(300)
		pts := make([]uint16, n)
		v := 1 + rng.IntN(0xFFFF)
		noise := 1 + rng.IntN(1<<rng.IntN(17))
		for i := range pts {
			switch rng.IntN(6) {
			case 0:
				continue // a gap
			case 1:
				// a repeat
			default:
				v = max(1, min(0xFFFF, v+rng.IntN(2*noise+1)-noise))
			}
			pts[i] = uint16(v)
		}
		got, err := decodeBlock(appendBlock(nil, pts), n)
		if err != nil || !slices.Equal(got, pts) {
			t.Fatalf("round trip of %v: %v, %v", pts, got, err)
		}
	}
}

func TestDecodeBlockRejects(t *testing.T) {
	for name, c := range map[string]struct {
		b []byte
		n int
	}{
		"too few points":    {appendBlock(nil, []uint16{1, 2, 3}), 4},
		"too many points":   {appendBlock(nil, []uint16{1, 2, 3}), 2},
		"unknown kind":      {[]byte{1<<2 | 3}, 1},
		"point below range": {[]byte{1<<2 | runRamp, 1}, 1},                // 0 - 1
		"point above range": {[]byte{2<<2 | runRamp, 0xfe, 0xff, 0x07}, 2}, // +65535 twice
		"packed cut short":  {[]byte{4<<2 | runPacked, 8, 1, 2}, 4},
		"width too large":   {[]byte{1<<2 | runPacked, 18, 1, 2, 3}, 1},
		"truncated header":  {[]byte{0x80}, 1},
		"empty run":         {[]byte{0 << 2}, 1},
	} {
		if _, err := decodeBlock(c.b, c.n); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
	}
}

func TestCompactRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := dayShapes(rng)
	blocks := []histBlock{
		{Day: 20420, Step: 5, Points: coarsen(app.LongestWait, shapes["noisy"], 5)},
		{Day: 20418, Step: 5, Points: coarsen(app.LongestWait, shapes["gappy"], 5)},
		{Day: 20421, Step: 1, Points: shapes["ramps"]},
		{Day: 20419, Step: 1, Points: shapes["empty"]}, // left out
	}
	enc := encodeCompact(20422, blocks)
	asOf, got, err := decodeCompact(enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := compactAsOf(enc[:min(len(enc), 12)]); !ok || a != 20422 || asOf != 20422 {
		t.Errorf("asOf = %d (header %d, %v), want 20422", asOf, a, ok)
	}
	want := []histBlock{blocks[1], blocks[0], blocks[2]}
	if len(got) != len(want) {
		t.Fatalf("%d blocks, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Day != want[i].Day || got[i].Step != want[i].Step || !slices.Equal(got[i].Points, want[i].Points) {
			t.Errorf("block %d: day %d step %d, want day %d step %d (or points differ)", i, got[i].Day, got[i].Step, want[i].Day, want[i].Step)
		}
	}
	_, some, err := decodeCompact(enc, func(d int64) bool { return d >= 20421 })
	if err != nil || len(some) != 1 || some[0].Day != 20421 {
		t.Errorf("decoding from day 20421: %d blocks, %v; want 1", len(some), err)
	}
	for cut := range len(enc) {
		if _, _, err := decodeCompact(enc[:cut], nil); err == nil && cut > 0 && cut < len(enc) {
			// A cut between blocks is a shorter valid string; any other
			// cut must be an error, never a panic.
			if _, b, _ := decodeCompact(enc[:cut], nil); len(b) == 3 {
				t.Errorf("cut at %d decodes all 3 blocks", cut)
			}
		}
	}
}

func TestCoarsen(t *testing.T) {
	pts := make([]uint16, 10)
	copy(pts, []uint16{5, 0, 9, 2, 0, 0, 0, 0, 0, 0})
	if got := coarsen(app.LongestWait, pts, 5); !slices.Equal(got, []uint16{9, 0}) {
		t.Errorf("above: %v, want the highest point of each 5 minutes [9 0]", got)
	}
	if got := coarsen(app.ServiceLevel, pts, 5); !slices.Equal(got, []uint16{2, 0}) {
		t.Errorf("below: %v, want the lowest [2 0]", got)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, pts := range dayShapes(rng) {
		f.Add(appendBlock(nil, pts[600:700]), 100)
	}
	f.Add([]byte{1<<2 | runPacked, 17, 0xff, 0xff, 0xff}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > dayMinutes {
			return
		}
		pts, err := decodeBlock(b, n)
		if err != nil {
			return
		}
		again, err := decodeBlock(appendBlock(nil, pts), n)
		if err != nil || !slices.Equal(again, pts) {
			t.Fatalf("re-encoding a decoded block: %v, %v", again, err)
		}
	})
}

func FuzzDecodeCompact(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	shapes := dayShapes(rng)
	f.Add(encodeCompact(3, []histBlock{{Day: 2, Step: 5, Points: coarsen(app.Agents, shapes["gappy"], 5)}}))
	f.Add(encodeCompact(3, []histBlock{{Day: 1, Step: 1, Points: shapes["flat"]}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodeCompact(b, nil)
	})
}

func FuzzBlockRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 0, 255, 255, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pts := make([]uint16, len(b)/2)
		for i := range pts {
			pts[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		got, err := decodeBlock(appendBlock(nil, pts), len(pts))
		if err != nil || !slices.Equal(got, pts) {
			t.Fatalf("round trip of %v: %v, %v", pts, got, err)
		}
	})
}
