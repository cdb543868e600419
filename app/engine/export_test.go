package engine

// StormWaiting reports how many changes wait for their channels' locks to
// be committed by the next holder (TestStormGroupCommit).
func (e *Engine) StormWaiting() int {
	e.storms.mu.Lock()
	defer e.storms.mu.Unlock()
	n := 0
	for _, ps := range e.storms.waiting {
		n += len(ps)
	}
	return n
}
