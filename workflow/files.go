package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlInsertFileBlob = queries.Must("InsertFileBlob")
	sqlGetFileBlob    = queries.Must("GetFileBlob")
	sqlFindOrgFile    = queries.Must("FindOrgFile")
)

// FileIn is a file handed in with a document.
type FileIn struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"content_base64"`
}

// File is a stored file as referenced by a document.
type File struct {
	SHA256      string `json:"sha256"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Role        string `json:"role,omitempty"` // outgoing: main, attachment, signed
}

// ErrFileCorrupt is returned when stored bytes no longer hash to their key.
var ErrFileCorrupt = apperr.New(apperr.Internal, "file_corrupt",
	"Tệp lưu trữ bị hỏng (mã băm không khớp) / stored file is corrupt (hash mismatch)")

func (s *Service) checkFile(f *FileIn) error {
	f.Name = strings.TrimSpace(f.Name)
	if err := checkText("file name", f.Name, 1, 255); err != nil {
		return err
	}
	if strings.ContainsAny(f.Name, "/\\\x00") || f.Name == "." || f.Name == ".." {
		return apperr.New(apperr.Invalid, "bad_file_name", "Tên tệp không được chứa / hoặc \\ / file name must not contain a path")
	}
	if f.ContentType == "" {
		f.ContentType = "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(f.ContentType)
	if err != nil || len(f.ContentType) > 100 {
		return apperr.New(apperr.Invalid, "bad_content_type", "Kiểu tệp không hợp lệ / malformed content type "+quote(f.ContentType))
	}
	f.ContentType = mt
	if int64(len(f.Data)) > s.maxFile {
		return apperr.New(apperr.TooLarge, "file_too_large", "Tệp "+quote(f.Name)+" lớn quá giới hạn / file is over the size limit")
	}
	if mt == "application/pdf" && !bytes.HasPrefix(f.Data, []byte("%PDF-")) {
		return apperr.New(apperr.Invalid, "not_pdf", "Tệp "+quote(f.Name)+" không phải PDF / file is declared PDF but is not one")
	}
	return nil
}

// PutFileTx stores data under its SHA-256 in the caller's transaction and returns the key. Storing the
// same bytes twice (a retried transaction, the same attachment in two documents) writes them once.
func PutFileTx(ctx context.Context, tx pgx.Tx, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	if _, err := tx.Exec(ctx, sqlInsertFileBlob, sum[:], int64(len(data)), data); err != nil {
		return nil, dbErr(err)
	}
	return sum[:], nil
}

// getFile reads the bytes stored under key and checks them against it.
func getFile(ctx context.Context, q queryer, key []byte) ([]byte, error) {
	var data []byte
	err := q.QueryRow(ctx, sqlGetFileBlob, key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("tệp")
	}
	if err != nil {
		return nil, dbErr(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], key) {
		return nil, ErrFileCorrupt
	}
	return data, nil
}

// ParseSHA256 checks a hex SHA-256 from outside.
func ParseSHA256(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, apperr.New(apperr.Invalid, "bad_sha256", "Mã băm SHA-256 không hợp lệ (64 ký tự hex) / malformed SHA-256 (64 hex digits)")
	}
	return b, nil
}

// GetFile returns a file the caller's organisation holds (attached to one of its incoming or outgoing
// documents), checked against its hash.
func (s *Service) GetFile(ctx context.Context, p Principal, sha string) (File, []byte, error) {
	key, err := ParseSHA256(sha)
	if err != nil {
		return File{}, nil, err
	}
	if err := require(p, RoleClerk, RoleLeader, RoleSpecialist); err != nil {
		return File{}, nil, err
	}
	var f File
	err = s.pool.QueryRow(ctx, sqlFindOrgFile, key, p.OrgID).Scan(&f.Name, &f.ContentType, &f.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return File{}, nil, notFound("tệp")
	}
	if err != nil {
		return File{}, nil, dbErr(err)
	}
	f.SHA256 = hex.EncodeToString(key)
	data, err := getFile(ctx, s.pool, key)
	return f, data, err
}

// FileBytesTx returns the bytes of a stored file, checked against its hash (for the exchange side
// building packets inside its own transaction).
func FileBytesTx(ctx context.Context, tx pgx.Tx, sha string) ([]byte, error) {
	key, err := ParseSHA256(sha)
	if err != nil {
		return nil, err
	}
	return getFile(ctx, tx, key)
}
