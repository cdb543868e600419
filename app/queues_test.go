package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	supportID = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	billingID = "7d1e2c3b-4a59-4b6c-8d7e-9f0a1b2c3d4e"
	kundenID  = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
	relayID   = "relay.queue-7"
)

func knownQueues() map[string]string {
	return map[string]string{
		supportID: "Support",
		billingID: "Billing EU",
		kundenID:  "Kundendienst Süd",
		relayID:   "",
		"dup-1":   "Sales",
		"dup-2":   "sales",
		"dup-3":   "SALES ",
	}
}

func TestResolveQueue(t *testing.T) {
	tests := []struct {
		name      string
		arg       string
		want      QueueRef
		wantErr   bool
		errSubstr string
	}{
		{name: "exact name", arg: "Support", want: QueueRef{ID: supportID, Name: "Support", Known: true}},
		{name: "name in other case", arg: "sUPPORT", want: QueueRef{ID: supportID, Name: "Support", Known: true}},
		{name: "name with spaces", arg: "billing eu", want: QueueRef{ID: billingID, Name: "Billing EU", Known: true}},
		{name: "extra inner spaces", arg: "Billing   EU", want: QueueRef{ID: billingID, Name: "Billing EU", Known: true}},
		{name: "unicode name case-folded", arg: "KUNDENDIENST SÜD", want: QueueRef{ID: kundenID, Name: "Kundendienst Süd", Known: true}},
		{name: "known id", arg: supportID, want: QueueRef{ID: supportID, Name: "Support", Known: true}},
		{name: "known id upper case", arg: strings.ToUpper(supportID), want: QueueRef{ID: supportID, Name: "Support", Known: true}},
		{name: "known relay id without name", arg: relayID, want: QueueRef{ID: relayID, Known: true}},
		{name: "unknown uuid accepted", arg: "AAAAAAAA-8C1A-4A53-B9A4-0C5D7E8F9A10",
			want: QueueRef{ID: "aaaaaaaa-8c1a-4a53-b9a4-0c5d7e8f9a10"}},
		{name: "exact case breaks a tie", arg: "sales", want: QueueRef{ID: "dup-2", Name: "sales", Known: true}},
		{name: "ambiguous name", arg: "saLES ", wantErr: true, errSubstr: "3 queues are named 'saLES'"},
		{name: "typo suggests", arg: "Suport", wantErr: true, errSubstr: "no queue named 'Suport'; did you mean 'Support'?"},
		{name: "unicode typo suggests", arg: "Kundendienst Sud", wantErr: true, errSubstr: "did you mean 'Kundendienst Süd'?"},
		{name: "substring suggests", arg: "billing", wantErr: true, errSubstr: "did you mean 'Billing EU'?"},
		{name: "far off has no suggestion", arg: "Warehouse", wantErr: true, errSubstr: "no queue named 'Warehouse' (slabot learns"},
		{name: "empty", arg: "  ", wantErr: true, errSubstr: "no queue given"},
		{name: "not quite a uuid", arg: "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a1", wantErr: true, errSubstr: "no queue named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveQueue(knownQueues(), tt.arg)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownQueue) {
					t.Fatalf("err = %v, want ErrUnknownQueue", err)
				}
				if !strings.Contains(err.Error(), tt.errSubstr) {
					t.Errorf("err = %q, want it to contain %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveQueue(%q): %v", tt.arg, err)
			}
			if got != tt.want {
				t.Errorf("ResolveQueue(%q) = %+v, want %+v", tt.arg, got, tt.want)
			}
		})
	}
}

func TestResolveQueueErrorDetails(t *testing.T) {
	_, err := ResolveQueue(knownQueues(), "sALES")
	var uq *UnknownQueueError
	if !errors.As(err, &uq) {
		t.Fatalf("err = %v, want *UnknownQueueError", err)
	}
	if got, want := uq.Ambiguous, []string{"dup-1", "dup-2", "dup-3"}; !slices.Equal(got, want) {
		t.Errorf("Ambiguous = %v, want %v", got, want)
	}

	_, err = ResolveQueue(nil, "Support")
	if !errors.As(err, &uq) || uq.Suggestion != "" {
		t.Errorf("with no known queues: err = %v, want no suggestion", err)
	}

	long := strings.Repeat("Supp", 500)
	_, err = ResolveQueue(knownQueues(), long)
	if !errors.Is(err, ErrUnknownQueue) || len(err.Error()) > 400 {
		t.Errorf("long arg: err has %d bytes, want a short ErrUnknownQueue", len(err.Error()))
	}
}

func TestLooksLikeQueueID(t *testing.T) {
	for s, want := range map[string]bool{
		supportID:                              true,
		strings.ToUpper(supportID):             true,
		"2f6f2d4e8c1a4a53b9a40c5d7e8f9a10":     false,
		"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a1g": false,
		"Support":                              false,
		"":                                     false,
	} {
		if got := LooksLikeQueueID(s); got != want {
			t.Errorf("LooksLikeQueueID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"support", "suport", 3, 1},
		{"kitten", "sitting", 3, 3},
		{"süd", "sud", 2, 1},
		{"", "abc", 3, 3},
		{"abcdef", "uvwxyz", 2, 3},
		{"a", "abcdefg", 2, 3},
	}
	for _, tt := range tests {
		if got := editDistance([]rune(tt.a), []rune(tt.b), tt.limit); got != tt.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
	}
}
