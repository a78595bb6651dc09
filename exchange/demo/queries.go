package demo

import (
	"embed"

	"github.com/lienthong/lienthong/internal/sqlset"
)

// The package's runtime SQL, one file per Go file that runs it (sql/<file>.sql for <file>.go).
//
//go:embed sql/*.sql
var sqlFiles embed.FS

var queries = sqlset.MustLoad(sqlFiles, "sql")
