package daemon

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/notify"
)

// Shutdown undoes start-up in reverse: no new rounds first, then what rounds
// use (vantages, delivery), then the HTTP surface, the results still
// buffered, the store, and the lock last, so the next daemon finds the
// store closed.
func TestShutdownStopsInReverseOfStartUp(t *testing.T) {
	tg := newTarget(t)
	ready := make(chan struct{})
	f := newFixture(t, monitorTOML("web", tg.URL), func(o *Options) { o.Ready = func() { close(ready) } })
	if got, want := f.d.down.Names(), []string{"closing store", "releasing the state directory lock"}; !slices.Equal(got, want) {
		t.Fatalf("after New the cleanups are %v, want %v", got, want)
	}
	stop := f.run()
	<-ready
	want := []string{
		"stopping scheduler",
		"stopping vantages",
		"stopping the receivers' listeners",
		"stopping notification delivery",
		"stopping the control socket",
		"stopping HTTP server",
		"stopping the result flush loop",
		"flushing results",
		"closing store",
		"releasing the state directory lock",
	}
	if got := f.d.down.Names(); !slices.Equal(got, want) {
		t.Fatalf("while running the cleanups are\n%q\nwant\n%q", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := f.d.down.Names(); len(got) != 0 {
		t.Fatalf("after Run the cleanups %v are left", got)
	}
	if err := f.d.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
	f.open(nil) // the lock was released
}

// A start that fails half way undoes what it did: the store is closed and
// the lock released, so the next start is not refused.
func TestFailedStartReleasesTheStateDir(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, nil)
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("no such CA")
	_, err := New(context.Background(), loadConfig(t, f.file), Options{
		Clock:    f.clock,
		Notifier: func(*config.Receiver) (notify.Notifier, error) { return nil, boom },
	})
	if !errors.Is(err, boom) {
		t.Fatalf("New with a receiver that cannot be built: %v, want %v", err, boom)
	}
	f.open(nil)
}
