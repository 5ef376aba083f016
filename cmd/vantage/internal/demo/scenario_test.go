package demo

import (
	"path/filepath"
	"testing"
)

// TestStartRelativeStateDir: a relative --state is the operator's
// directory, from where the demo was started, so that it outlives the
// demo. The demo's config lives in a temporary directory that Close
// removes; taken relative to that file, the state would go with it.
func TestStartRelativeStateDir(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	w, err := Start(t.Context(), Options{StateDir: "state"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got, want := w.Config.StateDir, filepath.Join(wd, "state"); got != want {
		t.Errorf("state_dir %s, want %s", got, want)
	}
}
