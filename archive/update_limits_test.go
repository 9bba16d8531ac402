package archive

import "testing"

// TestDownloadLimiter: a box gets maxBoxDownloads slots, the archive
// maxDownloads; a released slot is free again.
func TestDownloadLimiter(t *testing.T) {
	var l downloadLimiter
	for i := range maxBoxDownloads {
		if !l.acquire("a") {
			t.Fatalf("download %d of box a refused", i+1)
		}
	}
	if l.acquire("a") {
		t.Fatalf("box a: download %d allowed, the cap is %d", maxBoxDownloads+1, maxBoxDownloads)
	}
	l.release("a")
	if !l.acquire("a") {
		t.Fatal("box a: a released slot is not free again")
	}
	for i := 0; l.total < maxDownloads; i++ {
		if !l.acquire(string(rune('b'+i/maxBoxDownloads)) + "x") {
			t.Fatalf("archive: download %d refused below the cap", l.total+1)
		}
	}
	if l.acquire("other") {
		t.Fatalf("archive: download %d allowed, the cap is %d", maxDownloads+1, maxDownloads)
	}
}
