// Package pgcluster starts a private PostgreSQL cluster from the system's initdb and pg_ctl, so that
// `lienthong serve`, `demo` and the tests run on a real server when DATABASE_URL is unset. The cluster
// listens on 127.0.0.1 on a free port, trusts local connections, and is stopped by Stop.
//
// PostgreSQL refuses to run as root; when we are root the server runs as the "postgres" system user
// (or "nobody"), and the data folder is handed to that user.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	Dir  string // data folder
	Port int
	bin  string
	cred *syscall.Credential
	own  bool // Dir was created by us and is removed on Stop
}

// URL returns a connection string for database name db as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// ErrNoPostgres is returned when no initdb/pg_ctl can be found.
var ErrNoPostgres = errors.New("pgcluster: PostgreSQL server binaries (initdb, pg_ctl) not found; install them with: apt-get install postgresql")

// BinDir finds the folder holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/N/bin
// (newest first).
func BinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start creates (if empty) and starts a cluster in dir. An empty dir means a fresh temporary folder that
// Stop removes.
func Start(ctx context.Context, dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lienthong-pg-"); err != nil {
			return nil, fmt.Errorf("pgcluster: making data folder: %w", err)
		}
		c.own = true
	}
	c.Dir, _ = filepath.Abs(dir)
	if os.Geteuid() == 0 {
		if c.cred, err = unprivileged(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgcluster: handing %s to the server user: %w", c.Dir, err)
		}
		// The parent must be traversable by the server user (os.MkdirTemp makes 0700 folders only for
		// the leaf, so this normally holds).
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION")); err != nil {
		if err := c.cmd(ctx, "initdb", "-D", c.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
			"--locale=C.UTF-8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("pgcluster: initdb: %w", err)
		}
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s "+
		"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "+
		"-c shared_buffers=128MB", c.Port, c.Dir)
	logFile := filepath.Join(c.Dir, "server.log")
	if err := c.cmd(ctx, "pg_ctl", "-D", c.Dir, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("pgcluster: pg_ctl start: %w\n%s", err, tail(log, 2000))
	}
	return c, nil
}

// Stop stops the server (fast shutdown) and removes the data folder if Start made it.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.cmd(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
	if c.own {
		if rmErr := os.RemoveAll(c.Dir); err == nil {
			err = rmErr
		}
	}
	return err
}

func (c *Cluster) cmd(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Dir = "/"
	}
	// Keep the server out of our process group so a Ctrl-C to us does not kill it before Stop.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, tail(out.Bytes(), 2000))
	}
	return nil
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgcluster: running as root and no 'postgres' or 'nobody' user to run the server as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
