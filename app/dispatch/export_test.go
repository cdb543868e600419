package dispatch

// Hold limits, for the tests of package app_test.
const (
	MaxHeld       = maxHeld
	ChannelBudget = channelBudget
	MaxByID       = maxByID
)

// Held reports how many entries d holds in full, in all and of channel,
// and how many by ID only. Call it only from d's own goroutine, as a
// Notifier does.
func (d *Dispatcher) Held(channel string) (full, ofChannel, byID int) {
	return len(d.held), d.inFull[channel], d.nByID
}
