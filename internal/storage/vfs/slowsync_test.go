package vfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSlowSyncDelaysSyncsAndKeepsOSFiles(t *testing.T) {
	dir := t.TempDir()
	control := filepath.Join(dir, "delay")
	fsys := SlowSync(OS(), DelayFromFile(control))

	f := mustOpen(t, fsys, filepath.Join(dir, "seg.log"), os.O_CREATE|os.O_RDWR)
	defer f.Close()
	if _, ok := f.(OSFile); !ok {
		t.Fatalf("a file of the real FS through SlowSync is %T, not an OSFile: sendfile would stop", f)
	}
	mustWrite(t, f, "x")

	// No control file: no delay (a loose bound; the point is the next one).
	start := time.Now()
	mustSync(t, f)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("sync without a delay file took %v", d)
	}

	const delay = 60 * time.Millisecond
	if err := os.WriteFile(control, []byte(delay.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	mustSync(t, f)
	if d := time.Since(start); d < delay {
		t.Fatalf("sync with a %v delay took %v", delay, d)
	}
	start = time.Now()
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < delay {
		t.Fatalf("SyncDir with a %v delay took %v", delay, d)
	}

	// The delay ends when the file goes.
	if err := os.Remove(control); err != nil {
		t.Fatal(err)
	}
	if d := DelayFromFile(control)(); d != 0 {
		t.Fatalf("delay %v after the control file was removed", d)
	}
}

func TestDelayFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "delay")
	for _, tc := range []struct {
		content string
		want    time.Duration
	}{
		{"250ms", 250 * time.Millisecond},
		{" 1s\n", time.Second},
		{"", 0},
		{"slow", 0},
		{"0", 0},
	} {
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := DelayFromFile(path)(); got != tc.want {
			t.Errorf("content %q: delay %v, want %v", tc.content, got, tc.want)
		}
	}
}
