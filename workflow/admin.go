package workflow

import (
	"context"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlIsOrgInSubtreeOf = queries.Must("IsOrgInSubtreeOf")
)

// An admin manages its own organisation and everything below it in the directory: a provincial admin
// adds communes and their users, a central admin anything. These methods are what the HTTP API calls;
// the CLI, run by the operator, calls AddOrg/AddUser/AddDepartment directly.

// adminOver checks that p is an admin whose organisation is code's organisation or one of its ancestors.
func (s *Service) adminOver(ctx context.Context, p Principal, code string) error {
	if err := require(p, RoleAdmin); err != nil {
		return err
	}
	o, err := s.LookupOrg(ctx, code)
	if err != nil {
		return err
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, sqlIsOrgInSubtreeOf, o.ID, p.OrgID).Scan(&ok); err != nil {
		return dbErr(err)
	}
	if !ok {
		return apperr.New(apperr.Forbidden, "outside_subtree",
			"Cơ quan "+o.Code+" không thuộc phạm vi quản trị của anh/chị / organisation is outside your administration")
	}
	return nil
}

// AdminAddOrg adds an organisation under one the admin manages (a parent is required).
func (s *Service) AdminAddOrg(ctx context.Context, p Principal, in NewOrg) (Org, error) {
	if err := require(p, RoleAdmin); err != nil {
		return Org{}, err
	}
	if in.ParentCode == "" {
		return Org{}, apperr.New(apperr.Invalid, "parent_required", "Cần cơ quan cấp trên (parent_code) / parent_code is required")
	}
	if err := s.adminOver(ctx, p, in.ParentCode); err != nil {
		if apperr.IsKind(err, apperr.NotFound) {
			return Org{}, apperr.Wrap(apperr.Invalid, "bad_parent", "Không tìm thấy cơ quan cấp trên / parent organisation not found", err)
		}
		return Org{}, err
	}
	return s.AddOrg(ctx, p, in)
}

// AdminAddUser adds a user to an organisation the admin manages and returns the one-time token.
func (s *Service) AdminAddUser(ctx context.Context, p Principal, in NewUser) (User, string, error) {
	if err := s.adminOver(ctx, p, in.OrgCode); err != nil {
		return User{}, "", err
	}
	return s.AddUser(ctx, p, in)
}

// AdminAddDepartment adds a department to an organisation the admin manages.
func (s *Service) AdminAddDepartment(ctx context.Context, p Principal, orgCode, code, name string) (Department, error) {
	if err := s.adminOver(ctx, p, orgCode); err != nil {
		return Department{}, err
	}
	return s.AddDepartment(ctx, p, orgCode, code, name)
}
