package axis

import (
	"bytes"
	"testing"
	"testing/iotest"
)

// ReadBody must return exactly what io.ReadAll would, whatever length is announced.
func TestReadBody(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 20000) // 200 KB
	for _, tc := range []struct {
		name        string
		size, limit int64
		want        int
	}{
		{"announced exactly", int64(len(data)), 1 << 20, len(data)},
		{"unknown length", -1, 1 << 20, len(data)},
		{"announced too small", 1000, 1 << 20, len(data)},
		{"announced too large", int64(len(data)) * 2, 1 << 20, len(data)},
		{"over the limit", int64(len(data)), 1000, 1001},
		{"over the limit, unknown length", -1, 1000, 1001},
	} {
		got, err := ReadBody(iotest.HalfReader(bytes.NewReader(data)), tc.size, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != tc.want || !bytes.Equal(got, data[:tc.want]) {
			t.Errorf("%s: got %d bytes, want the first %d", tc.name, len(got), tc.want)
		}
	}
	if _, err := ReadBody(iotest.ErrReader(iotest.ErrTimeout), 10, 100); err != iotest.ErrTimeout {
		t.Errorf("a read error must be returned, got %v", err)
	}
}
