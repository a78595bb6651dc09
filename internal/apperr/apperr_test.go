package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindThroughWrapping(t *testing.T) {
	t.Parallel()
	base := errors.New("no rows")
	err := fmt.Errorf("loading document 7: %w", Wrap(NotFound, "document_not_found", "không tìm thấy văn bản", base))
	if !IsKind(err, NotFound) {
		t.Fatalf("IsKind(NotFound) = false for %v", err)
	}
	if IsKind(err, Conflict) {
		t.Fatalf("IsKind(Conflict) = true for %v", err)
	}
	if !errors.Is(err, base) {
		t.Fatal("cause lost")
	}
	if KindOf(err) != NotFound || Detail(err) != "không tìm thấy văn bản" {
		t.Fatalf("KindOf/Detail = %v/%q", KindOf(err), Detail(err))
	}
	if KindOf(base) != Internal || Detail(base) != "internal error" {
		t.Fatal("untyped errors must be internal and hide their text")
	}
}
