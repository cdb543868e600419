// Package sockettest is a fake Slack Socket Mode endpoint for tests. It
// speaks the wire protocol slabot meets in production: apps.connections.open
// (a POST with the app-level token as Bearer) answers a ws:// URL; the
// WebSocket at that URL says hello, pings, delivers envelopes
// ({"envelope_id","type","payload","accepts_response_payload",
// "retry_attempt","retry_reason"}), reads the client's acks
// ({"envelope_id","payload"}) and can ask the client to reconnect
// ({"type":"disconnect","reason":"refresh_requested"}) or drop it.
package sockettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Envelope is one delivery from Slack.
type Envelope struct {
	EnvelopeID             string `json:"envelope_id"`
	Type                   string `json:"type"` // slash_commands, interactive, events_api
	Payload                any    `json:"payload"`
	AcceptsResponsePayload bool   `json:"accepts_response_payload"`
	RetryAttempt           int    `json:"retry_attempt"`
	RetryReason            string `json:"retry_reason"`
}

// Ack is a client's acknowledgement of an envelope.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
	// Latency is the time from the envelope's first sending to this ack.
	Latency time.Duration `json:"-"`
}

// Server is the fake. Its URL is a Web API base URL (with the trailing
// slash slack-go expects): apps.connections.open is answered here, every
// other method goes to the handler given to New.
type Server struct {
	*httptest.Server
	t        testing.TB
	appToken string
	next     http.Handler
	// PingEvery is how often each connection is pinged; set before the
	// first connection.
	PingEvery time.Duration

	mu     sync.Mutex
	opened int
	conns  []*Conn
	sentAt map[string]time.Time
	acks   []Ack
	ackCh  chan struct{}
}

// New starts a fake that accepts appToken and hands other Web API methods
// to next (the fake Web API), closed at the end of the test.
func New(t testing.TB, appToken string, next http.Handler) *Server {
	s := &Server{t: t, appToken: appToken, next: next, PingEvery: 500 * time.Millisecond,
		sentAt: make(map[string]time.Time), ackCh: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		for _, c := range s.conns {
			c.ws.Close()
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

// APIURL is the base URL to give slabot as SLACK_API_URL.
func (s *Server) APIURL() string { return s.URL + "/" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/apps.connections.open":
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+s.appToken {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		s.mu.Lock()
		s.opened++
		n := s.opened
		s.mu.Unlock()
		url := fmt.Sprintf("ws://%s/link/?ticket=ticket-%d&app_id=A0FAKE", r.Host, n)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": url})
	case "/link/":
		s.link(w, r)
	default:
		s.next.ServeHTTP(w, r)
	}
}

// Conn is one client connection.
type Conn struct {
	// N numbers the connection's apps.connections.open call, from 1.
	N       int
	s       *Server
	ws      *websocket.Conn
	wmu     sync.Mutex
	noPings chan struct{}
	once    sync.Once
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	var n int
	if _, err := fmt.Sscanf(r.URL.Query().Get("ticket"), "ticket-%d", &n); err != nil {
		http.Error(w, "no ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &Conn{N: n, s: s, ws: ws, noPings: make(chan struct{})}
	if err := c.write(map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": "A0FAKE"}}); err != nil {
		ws.Close()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	stop := make(chan struct{})
	go c.ping(stop)
	defer func() {
		close(stop)
		ws.Close()
		s.mu.Lock()
		for i, x := range s.conns {
			if x == c {
				s.conns = append(s.conns[:i], s.conns[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var a Ack
		if err := json.Unmarshal(msg, &a); err != nil || a.EnvelopeID == "" {
			s.t.Errorf("sockettest: client sent %q, not an ack", msg)
			continue
		}
		s.mu.Lock()
		a.Latency = time.Since(s.sentAt[a.EnvelopeID])
		s.acks = append(s.acks, a)
		close(s.ackCh)
		s.ackCh = make(chan struct{})
		s.mu.Unlock()
	}
}

func (c *Conn) ping(stop chan struct{}) {
	t := time.NewTicker(c.s.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.noPings:
			return
		case <-t.C:
			c.wmu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			c.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

func (c *Conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// Send delivers env on this connection. The first sending of an envelope
// ID starts its ack latency.
func (c *Conn) Send(env Envelope) {
	c.s.mu.Lock()
	if _, ok := c.s.sentAt[env.EnvelopeID]; !ok {
		c.s.sentAt[env.EnvelopeID] = time.Now()
	}
	c.s.mu.Unlock()
	if err := c.write(env); err != nil {
		c.s.t.Errorf("sockettest: send %s: %v", env.EnvelopeID, err)
	}
}

// Disconnect asks the client to reconnect, as Slack does before it
// refreshes a connection (reason refresh_requested, warning,
// link_disabled…).
func (c *Conn) Disconnect(reason string) {
	if err := c.write(map[string]any{"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": "applink-fake"}}); err != nil {
		c.s.t.Errorf("sockettest: disconnect: %v", err)
	}
}

// Drop closes the TCP connection without a word, as a network failure
// does.
func (c *Conn) Drop() { c.ws.NetConn().Close() }

// StopPings stops pinging this connection, as a half-dead link does.
func (c *Conn) StopPings() { c.once.Do(func() { close(c.noPings) }) }

// Opened counts apps.connections.open calls that succeeded.
func (s *Server) Opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// Conns are the open connections, oldest first.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.conns...)
}

// WaitConns waits until exactly n connections are open, all opened
// after the first minOpened-n (so a reconnect's new connection, not the
// old one about to close), and returns them.
func (s *Server) WaitConns(t testing.TB, n, minOpened int) []*Conn {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.mu.Lock()
		conns, opened := append([]*Conn(nil), s.conns...), s.opened
		s.mu.Unlock()
		fresh := len(conns) == n
		for _, c := range conns {
			fresh = fresh && c.N > minOpened-n
		}
		if fresh {
			return conns
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockettest: %d connections open after %d opens; want %d after at least %d", len(conns), opened, n, minOpened)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Acks are the acks received so far, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.acks...)
}

// WaitAcks waits until at least n acks have arrived and returns them.
func (s *Server) WaitAcks(t testing.TB, n int) []Ack {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		acks, ch := append([]Ack(nil), s.acks...), s.ackCh
		s.mu.Unlock()
		if len(acks) >= n {
			return acks
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("sockettest: %d acks, want %d", len(acks), n)
		}
	}
}

// WaitAck waits for the ack of envelopeID.
func (s *Server) WaitAck(t testing.TB, envelopeID string) Ack {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		acks, ch := s.acks, s.ackCh
		for _, a := range acks {
			if a.EnvelopeID == envelopeID {
				s.mu.Unlock()
				return a
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("sockettest: no ack of %s", envelopeID)
		}
	}
}
