package drain

import (
	"bytes"
	"strings"
	"sync"
)

// tailBuffer keeps the last max bytes written to it: a drain command may
// print without bound, and only its end explains how it ended.
type tailBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped bool // earlier output was discarded
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		// Copy down rather than reslice so the backing array stays bounded.
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	return len(p), nil
}

// String is the kept output, trimmed, with "..." when earlier output was cut.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.buf), "?"))
	if t.dropped && s != "" {
		s = "..." + s
	}
	return s
}

// LastLine is the last non-blank line written, "" when there is none.
func (t *tailBuffer) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bytes.TrimRight(t.buf, " \t\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}
