package workflow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlOrgLevelIsActive       = queries.Must("OrgLevelIsActive")
	sqlOrgAliasExists         = queries.Must("OrgAliasExists")
	sqlInsertOrg              = queries.Must("InsertOrg")
	sqlOrgCodeExists          = queries.Must("OrgCodeExists")
	sqlUpsertOrgAlias         = queries.Must("UpsertOrgAlias")
	sqlLookupOrgByCodeOrAlias = queries.Must("LookupOrgByCodeOrAlias")
	sqlListOrgsInSubtree      = queries.Must("ListOrgsInSubtree")
	sqlInsertDepartment       = queries.Must("InsertDepartment")
	sqlListDepartments        = queries.Must("ListDepartments")
	sqlFindDepartmentByCode   = queries.Must("FindDepartmentByCode")
	sqlInsertUser             = queries.Must("InsertUser")
	sqlInsertAPIToken         = queries.Must("InsertAPIToken")
	sqlFindPrincipalByToken   = queries.Must("FindPrincipalByToken")
	sqlLockActiveUserOrg      = queries.Must("LockActiveUserOrg")
	sqlRevokeUserTokens       = queries.Must("RevokeUserTokens")
)

// Role is what a user may do.
type Role string

const (
	RoleClerk      Role = "clerk"      // văn thư: registers, presents, issues, dispatches
	RoleLeader     Role = "leader"     // lãnh đạo: assigns, approves, signs
	RoleSpecialist Role = "specialist" // chuyên viên: drafts and processes
	RoleAdmin      Role = "admin"      // manages the directory and users; sees no documents
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.TrimSpace(s)); r {
	case RoleClerk, RoleLeader, RoleSpecialist, RoleAdmin:
		return r, nil
	}
	return "", apperr.New(apperr.Invalid, "bad_role",
		"Vai trò phải là clerk, leader, specialist hoặc admin / role must be clerk, leader, specialist or admin")
}

// Org is an organisation of the directory.
type Org struct {
	ID         int64     `json:"-"`
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	Abbr       string    `json:"abbr,omitempty"`
	Level      string    `json:"level"`
	ParentCode string    `json:"parent_code,omitempty"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewOrg is the input of AddOrg.
type NewOrg struct {
	Code       string
	Name       string
	Abbr       string // used in notations, e.g. "UBND" in 123/QĐ-UBND
	Level      string // a row of org_level: central, province, district, commune by default
	ParentCode string
}

// Principal is an authenticated user.
type Principal struct {
	UserID       int64  `json:"user_id"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	OrgID        int64  `json:"-"`
	OrgCode      string `json:"org_code"`
	OrgName      string `json:"org_name"`
	DepartmentID int64  `json:"department_id,omitempty"`
}

// actor renders who did something, for the audit log.
func (p Principal) actor() string {
	if p.UserID == 0 {
		if p.Name != "" {
			return p.Name
		}
		return "system"
	}
	return "user:" + itoa(p.UserID) + " " + p.Name + " (" + string(p.Role) + "@" + p.OrgCode + ")"
}

// System is the principal of CLI and internal actions.
func System(name string) Principal { return Principal{Name: name} }

func checkText(field string, s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) {
		return apperr.New(apperr.Invalid, "bad_"+field, field+": văn bản không phải UTF-8 / not valid UTF-8")
	}
	if n < min {
		return apperr.New(apperr.Invalid, "missing_"+field, "Thiếu "+field+" / "+field+" is required")
	}
	if n > max {
		return apperr.New(apperr.Invalid, "long_"+field, field+" dài quá "+itoa(int64(max))+" ký tự / "+field+" is longer than "+itoa(int64(max))+" characters")
	}
	return nil
}

// AddOrg adds an organisation to the directory.
func (s *Service) AddOrg(ctx context.Context, by Principal, in NewOrg) (Org, error) {
	var o Org
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		o, err = s.AddOrgTx(ctx, tx, by, in)
		return err
	})
	return o, err
}

// AddOrgTx is AddOrg inside the caller's transaction.
func (s *Service) AddOrgTx(ctx context.Context, tx pgx.Tx, by Principal, in NewOrg) (Org, error) {
	code, err := NormalizeOrgCode(in.Code)
	if err != nil {
		return Org{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := checkText("name", in.Name, 1, 200); err != nil {
		return Org{}, err
	}
	in.Abbr = strings.TrimSpace(in.Abbr)
	if err := checkText("abbr", in.Abbr, 0, 20); err != nil {
		return Org{}, err
	}
	level := strings.TrimSpace(in.Level)
	var levelOK bool
	if err := tx.QueryRow(ctx, sqlOrgLevelIsActive, level).Scan(&levelOK); err != nil {
		return Org{}, dbErr(err)
	}
	if !levelOK {
		return Org{}, apperr.New(apperr.Invalid, "bad_level",
			"Cấp hành chính không có trong danh mục (central, province, district, commune) / unknown level "+quote(level))
	}
	var parentID *int64
	parentCode := ""
	if strings.TrimSpace(in.ParentCode) != "" {
		p, err := s.lookupOrg(ctx, tx, in.ParentCode)
		if err != nil {
			return Org{}, apperr.Wrap(apperr.Invalid, "bad_parent", "Không tìm thấy cơ quan cấp trên / parent organisation not found", err)
		}
		parentID, parentCode = &p.ID, p.Code
	}
	var exists bool
	if err := tx.QueryRow(ctx, sqlOrgAliasExists, code).Scan(&exists); err != nil {
		return Org{}, dbErr(err)
	}
	if exists {
		return Org{}, apperr.New(apperr.Conflict, "org_exists", "Mã "+code+" đã là mã cũ của một cơ quan / code is already an alias")
	}
	o := Org{Code: code, Name: in.Name, Abbr: in.Abbr, Level: level, ParentCode: parentCode, Active: true}
	err = tx.QueryRow(ctx, sqlInsertOrg, code, in.Name, in.Abbr, level, parentID, s.now()).Scan(&o.ID, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Org{}, apperr.New(apperr.Conflict, "org_exists", "Cơ quan "+code+" đã có trong danh mục / organisation already exists")
	}
	if err != nil {
		return Org{}, dbErr(err)
	}
	if err := s.audit(ctx, tx, Event{Actor: by, Action: "org.add", OrgID: o.ID, Detail: map[string]any{
		"code": code, "name": in.Name, "level": level, "parent": parentCode,
	}}); err != nil {
		return Org{}, err
	}
	return o, nil
}

// AddAlias makes oldCode resolve to the organisation currently coded newCode (QCVN 102 → QĐ 20, or the
// 2025 re-coding).
func (s *Service) AddAlias(ctx context.Context, by Principal, oldCode, newCode string, validFrom *time.Time, note string) error {
	old, err := NormalizeOrgCode(oldCode)
	if err != nil {
		return err
	}
	return s.withTx(ctx, func(tx pgx.Tx) error {
		o, err := s.lookupOrg(ctx, tx, newCode)
		if err != nil {
			return err
		}
		var taken bool
		if err := tx.QueryRow(ctx, sqlOrgCodeExists, old).Scan(&taken); err != nil {
			return dbErr(err)
		}
		if taken {
			return apperr.New(apperr.Conflict, "alias_is_org", "Mã "+old+" đang là mã của một cơ quan / code is in use by an organisation")
		}
		if _, err := tx.Exec(ctx, sqlUpsertOrgAlias, old, o.ID, validFrom, note); err != nil {
			return dbErr(err)
		}
		return s.audit(ctx, tx, Event{Actor: by, Action: "org.alias", OrgID: o.ID, Detail: map[string]any{"old": old, "new": o.Code}})
	})
}

func scanOrg(row pgx.Row) (Org, error) {
	var o Org
	err := row.Scan(&o.ID, &o.Code, &o.Name, &o.Abbr, &o.Level, &o.ParentCode, &o.Active, &o.CreatedAt)
	return o, err
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LookupOrg finds an organisation by its code or by an old code (alias).
func (s *Service) LookupOrg(ctx context.Context, code string) (Org, error) {
	return s.lookupOrg(ctx, s.pool, code)
}

// LookupOrgTx is LookupOrg inside the caller's transaction.
func (s *Service) LookupOrgTx(ctx context.Context, tx pgx.Tx, code string) (Org, error) {
	return s.lookupOrg(ctx, tx, code)
}

func (s *Service) lookupOrg(ctx context.Context, q queryer, code string) (Org, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) == 0 || len(c) > MaxOrgCodeLen {
		return Org{}, notFound("cơ quan " + quote(c))
	}
	o, err := scanOrg(q.QueryRow(ctx, sqlLookupOrgByCodeOrAlias, c))
	if errors.Is(err, pgx.ErrNoRows) {
		return Org{}, notFound("cơ quan " + quote(c))
	}
	return o, dbErr(err)
}

// ListOrgs lists the directory, or the subtree under a code (inclusive) when under is set, optionally
// only one level.
func (s *Service) ListOrgs(ctx context.Context, under, level string) ([]Org, error) {
	var rootID *int64
	if under != "" {
		o, err := s.LookupOrg(ctx, under)
		if err != nil {
			return nil, err
		}
		rootID = &o.ID
	}
	rows, err := s.pool.Query(ctx, sqlListOrgsInSubtree, rootID, level)
	if err != nil {
		return nil, dbErr(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Org, error) { return scanOrg(r) })
}

// Department is a unit inside an organisation (phòng, ban).
type Department struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

// AddDepartment adds a department to an organisation.
func (s *Service) AddDepartment(ctx context.Context, by Principal, orgCode, code, name string) (Department, error) {
	d := Department{Code: strings.TrimSpace(code), Name: strings.TrimSpace(name)}
	if err := checkText("department_code", d.Code, 1, 20); err != nil {
		return d, err
	}
	if err := checkText("department_name", d.Name, 1, 200); err != nil {
		return d, err
	}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		o, err := s.lookupOrg(ctx, tx, orgCode)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlInsertDepartment, o.ID, d.Code, d.Name).Scan(&d.ID); err != nil {
			return dbErr(err)
		}
		return s.audit(ctx, tx, Event{Actor: by, Action: "department.add", OrgID: o.ID, Detail: map[string]any{"code": d.Code, "name": d.Name}})
	})
	return d, err
}

// ListDepartments lists the departments of the caller's organisation.
func (s *Service) ListDepartments(ctx context.Context, orgID int64) ([]Department, error) {
	rows, err := s.pool.Query(ctx, sqlListDepartments, orgID)
	if err != nil {
		return nil, dbErr(err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Department])
}

// User is a person with a role in one organisation.
type User struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	Role           Role   `json:"role"`
	OrgCode        string `json:"org_code"`
	DepartmentCode string `json:"department_code,omitempty"`
}

// NewUser is the input of AddUser.
type NewUser struct {
	OrgCode        string
	Name           string
	Position       string
	Role           string
	DepartmentCode string
}

// AddUser adds a user and returns it with a fresh API token, shown only this once; only its SHA-256 is
// stored.
func (s *Service) AddUser(ctx context.Context, by Principal, in NewUser) (User, string, error) {
	role, err := ParseRole(in.Role)
	if err != nil {
		return User{}, "", err
	}
	name := strings.TrimSpace(in.Name)
	if err := checkText("name", name, 1, 100); err != nil {
		return User{}, "", err
	}
	u := User{Name: name, Role: role}
	var token string
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		o, err := s.lookupOrg(ctx, tx, in.OrgCode)
		if err != nil {
			return err
		}
		u.OrgCode = o.Code
		var deptID *int64
		if dc := strings.TrimSpace(in.DepartmentCode); dc != "" {
			var id int64
			err := tx.QueryRow(ctx, sqlFindDepartmentByCode, o.ID, dc).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return apperr.New(apperr.Invalid, "bad_department", "Không có phòng ban "+quote(dc)+" trong cơ quan / no such department")
			}
			if err != nil {
				return dbErr(err)
			}
			deptID, u.DepartmentCode = &id, dc
		}
		if err := tx.QueryRow(ctx, sqlInsertUser, o.ID, deptID, name, strings.TrimSpace(in.Position), string(role), s.now()).Scan(&u.ID); err != nil {
			return dbErr(err)
		}
		if token, err = s.issueToken(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Actor: by, Action: "user.add", OrgID: o.ID, Detail: map[string]any{
			"user_id": u.ID, "name": name, "role": string(role), "department": u.DepartmentCode,
		}})
	})
	if err != nil {
		return User{}, "", err
	}
	return u, token, nil
}

// tokenPrefix marks lienthong tokens so they are recognisable in a leaked-secret scan.
const tokenPrefix = "lt_"

func (s *Service) issueToken(ctx context.Context, tx pgx.Tx, userID int64) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	if _, err := tx.Exec(ctx, sqlInsertAPIToken, sum[:], userID, s.now()); err != nil {
		return "", dbErr(err)
	}
	return token, nil
}

// ErrBadToken is returned by Authenticate for a missing, malformed, unknown or revoked token.
var ErrBadToken = apperr.New(apperr.Unauthorized, "bad_token",
	"Thiếu hoặc sai mã truy cập (Authorization: Bearer …) / missing or unknown API token")

// Authenticate finds the active user owning token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return Principal{}, ErrBadToken
	}
	sum := sha256.Sum256([]byte(token))
	if p, ok := s.auth.get(sum, s.now()); ok {
		return p, nil
	}
	var p Principal
	var dept *int64
	err := s.pool.QueryRow(ctx, sqlFindPrincipalByToken, sum[:]).
		Scan(&p.UserID, &p.Name, &p.Role, &p.OrgID, &p.OrgCode, &p.OrgName, &dept)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrBadToken
	}
	if err != nil {
		return Principal{}, dbErr(err)
	}
	if dept != nil {
		p.DepartmentID = *dept
	}
	s.auth.put(sum, p, s.now())
	return p, nil
}

// authCache remembers recently seen tokens for a few seconds so a busy client does not cost a query
// per request. Only successes are cached; a disabled user or revoked token stops working within the
// TTL.
type authCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[[32]byte]authEntry
}

type authEntry struct {
	p   Principal
	exp time.Time
}

func (c *authCache) get(k [32]byte, now time.Time) (Principal, bool) {
	if c.ttl <= 0 {
		return Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.After(e.exp) {
		return Principal{}, false
	}
	return e.p, true
}

func (c *authCache) put(k [32]byte, p Principal, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[[32]byte]authEntry{} // crude bound: start over rather than grow without limit
	}
	c.m[k] = authEntry{p, now.Add(c.ttl)}
}

// require returns a Forbidden error unless p has one of roles.
func require(p Principal, roles ...Role) error {
	for _, r := range roles {
		if p.Role == r {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return apperr.New(apperr.Forbidden, "wrong_role",
		"Vai trò "+string(p.Role)+" không được làm việc này (cần "+strings.Join(names, "/")+") / role "+string(p.Role)+" may not do this (needs "+strings.Join(names, "/")+")")
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// RotateToken revokes every token of a user and returns a new one (a lost or leaked token). Revoked
// tokens stop working at once for new lookups and within the cache TTL for this process.
func (s *Service) RotateToken(ctx context.Context, by Principal, userID int64) (string, error) {
	var token string
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var org int64
		err := tx.QueryRow(ctx, sqlLockActiveUserOrg, userID).Scan(&org)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("người dùng")
		}
		if err != nil {
			return dbErr(err)
		}
		if _, err := tx.Exec(ctx, sqlRevokeUserTokens, userID, s.now()); err != nil {
			return dbErr(err)
		}
		if token, err = s.issueToken(ctx, tx, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Actor: by, Action: "user.token_rotated", OrgID: org, Detail: map[string]any{"user_id": userID}})
	})
	if err == nil {
		s.auth.clear()
	}
	return token, err
}

func (c *authCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
