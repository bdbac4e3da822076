// Package accounts owns users, their rights and their login tokens.
//
// Routes (all JSON; errors are {"error","message"}):
//
//	POST   /api/v1/users                  register {"username","password"} → 201 user.
//	                                      Open when registration is open; an admin may
//	                                      always register users and also pass "rights".
//	POST   /api/v1/users/token            log in {"username","password"} → {"token","expires_at"};
//	                                      also sets the HttpOnly, SameSite=Lax session cookie
//	                                      (swarmtube_session, or swarmtube_session_<port> when the
//	                                      pod's URL names a port: browsers share cookies across ports).
//	DELETE /api/v1/users/token            log out: revokes the token used → 204
//	GET    /api/v1/users/me               → {"username","rights","created_at"}
//	GET    /api/v1/users                  (admin) → {"total","data":[user...]}
//	PUT    /api/v1/users/{username}/rights (admin) {"rights":["upload","admin"]} → user
//
// Usernames are 3-32 characters of a-z, 0-9, '_', '.', '-', starting with a
// letter or digit, compared case-insensitively (stored lower-cased).
// Passwords are 8-1024 bytes and stored as argon2id hashes. Tokens are 256
// random bits handed out once; only their SHA-256 is stored, with an expiry,
// so a stolen database does not hold usable tokens.
//
// Requests authenticate with "Authorization: Bearer <token>" or the session
// cookie. A cookie-authenticated request that changes state must come from the
// pod's own origin (Origin header check) on top of SameSite, so another site
// cannot act for a logged-in viewer.
package accounts
