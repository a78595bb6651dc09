package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func edxmlCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestEdxmlValidateCLI(t *testing.T) {
	code, out, _ := edxmlCLI(t, "edxml", "validate", "--json", "../../testdata/edxml/status_rejection_02.edxml")
	var res struct {
		Valid  bool   `json:"valid"`
		Kind   string `json:"kind"`
		Errors []struct{ Code, Path, Message string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Valid || res.Kind != "status" || res.Errors == nil {
		t.Fatalf("valid status: code %d, %v, %s", code, err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.edxml")
	raw, _ := os.ReadFile("../../testdata/edxml/status_rejection_02.edxml")
	_ = os.WriteFile(bad, bytes.Replace(raw, []byte("<edXML:StatusCode>02</edXML:StatusCode>"), nil, 1), 0o644)
	code, out, _ = edxmlCLI(t, "edxml", "validate", "--json", bad)
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Valid || len(res.Errors) == 0 {
		t.Fatalf("invalid: code %d %s", code, out)
	}
	if code, _, _ := edxmlCLI(t, "edxml", "validate", filepath.Join(t.TempDir(), "missing")); code != 2 {
		t.Fatalf("unreadable file: exit %d, want 2", code)
	}
	if code, _, _ := edxmlCLI(t, "edxml", "validate"); code != 2 {
		t.Fatalf("no file: exit %d, want 2", code)
	}
}

func TestEdxmlShowCLI(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := edxmlCLI(t, "edxml", "show", "--json", "../../testdata/edxml/edoc_new.edxml")
	var res struct {
		Kind        string `json:"kind"`
		DocumentID  string `json:"document_id"`
		Attachments []struct {
			Name   string `json:"name"`
			Size   int    `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("show: %d %v", code, err)
	}
	if res.Kind != "edoc" || len(res.Attachments) != 1 || res.Attachments[0].Size != 270823 || len(res.Attachments[0].SHA256) != 64 {
		t.Fatalf("show: %+v", res)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatal("show wrote files")
	}
}
