DROP TABLE api_token;
DROP TABLE app_user;
DROP TABLE department;
DROP TABLE org_alias;
DROP TABLE org;
DROP TABLE org_level;
