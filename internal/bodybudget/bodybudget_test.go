package bodybudget

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadKeepsTheBodyAndReleasesItsBytes(t *testing.T) {
	// Growing holds the old buffer and the new one for a moment.
	b := New(2<<20, 0)
	for _, size := range []int{0, 1, 4095, 4096, 4097, 70_000, 1 << 20} {
		body := bytes.Repeat([]byte{'x'}, size)
		for _, hint := range []int64{int64(size), -1} {
			// One byte per Read: the buffer grows through the classes.
			got, err := b.Read(iotest.OneByteReader(bytes.NewReader(body)), "a", 1<<20, hint)
			if err != nil {
				t.Fatalf("size %d hint %d: %v", size, hint, err)
			}
			if !bytes.Equal(got.Bytes(), body) {
				t.Fatalf("size %d hint %d: got %d bytes", size, hint, len(got.Bytes()))
			}
			if b.InUse() < int64(size) {
				t.Fatalf("size %d: %d bytes reserved", size, b.InUse())
			}
			got.Release()
			got.Release()
			if b.InUse() != 0 {
				t.Fatalf("size %d hint %d: %d bytes still reserved after Release", size, hint, b.InUse())
			}
		}
	}
}

func TestReadRefusesTooLarge(t *testing.T) {
	b := New(0, 0)
	for _, hint := range []int64{-1, 1 << 20} {
		_, err := b.Read(strings.NewReader(strings.Repeat("x", 1<<20+1)), "a", 1<<20, hint)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("hint %d: %v, want ErrTooLarge", hint, err)
		}
	}
	if _, err := b.Read(strings.NewReader("x"), "a", 1<<20, 1<<20+1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("announced length over the limit: %v", err)
	}
	// A limit that is no buffer class.
	if _, err := b.Read(strings.NewReader(strings.Repeat("x", 1001)), "a", 1000, -1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1001 bytes with limit 1000: %v", err)
	}
	got, err := b.Read(strings.NewReader(strings.Repeat("x", 1000)), "a", 1000, -1)
	if err != nil || len(got.Bytes()) != 1000 {
		t.Fatalf("1000 bytes with limit 1000: %v", err)
	}
	got.Release()
	if b.InUse() != 0 {
		t.Fatalf("%d bytes reserved after refusals", b.InUse())
	}
}

func TestBudgetCapsTotalAndPerKey(t *testing.T) {
	b := New(64<<10, 32<<10)
	// Two 16 KiB bodies fit one key's share; the third does not.
	var held []*Body
	for i := 0; i < 2; i++ {
		got, err := b.Read(strings.NewReader(strings.Repeat("x", 10_000)), "flood", 1<<20, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, got)
	}
	if _, err := b.Read(strings.NewReader("x"), "flood", 1<<20, 10_000); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("third body of one key: %v, want ErrOverBudget", err)
	}
	// Another key still has room, up to the total.
	for i := 0; i < 2; i++ {
		got, err := b.Read(strings.NewReader(strings.Repeat("y", 10_000)), "meta"+string(rune('0'+i)), 1<<20, 10_000)
		if err != nil {
			t.Fatalf("another key: %v", err)
		}
		held = append(held, got)
	}
	if _, err := b.Read(strings.NewReader("z"), "other", 1<<20, 1); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("over the total: %v, want ErrOverBudget", err)
	}
	if b.Refused() != 2 {
		t.Fatalf("refused %d, want 2", b.Refused())
	}
	for _, h := range held {
		h.Release()
	}
	if b.InUse() != 0 {
		t.Fatalf("%d bytes reserved after releasing everything", b.InUse())
	}
	got, err := b.Read(strings.NewReader("x"), "flood", 1<<20, 1)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	got.Release()
}

func TestReadErrorHoldsNothing(t *testing.T) {
	b := New(1<<20, 0)
	boom := errors.New("connection reset")
	_, err := b.Read(io.MultiReader(strings.NewReader(strings.Repeat("x", 5000)), iotest.ErrReader(boom)), "a", 1<<20, -1)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if b.InUse() != 0 {
		t.Fatalf("%d bytes reserved after a failed read", b.InUse())
	}
}

func TestGrowingRefusedOverBudget(t *testing.T) {
	// 4 KiB fit, 16 KiB do not: a body of unknown length that outgrows the
	// budget is refused and holds nothing.
	b := New(8<<10, 0)
	_, err := b.Read(strings.NewReader(strings.Repeat("x", 5000)), "a", 1<<20, -1)
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("got %v", err)
	}
	if b.InUse() != 0 {
		t.Fatalf("%d bytes reserved", b.InUse())
	}
}

func BenchmarkReadPooled(b *testing.B) {
	budget := New(32<<20, 0)
	body := bytes.Repeat([]byte{'x'}, 3000)
	b.ReportAllocs()
	for b.Loop() {
		got, err := budget.Read(bytes.NewReader(body), "a", 1<<20, int64(len(body)))
		if err != nil {
			b.Fatal(err)
		}
		got.Release()
	}
}
