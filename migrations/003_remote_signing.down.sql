DROP TABLE sign_ticket;
DROP TABLE sign_session;
DROP TABLE sign_request;
