// Package remote lets a leader sign an outgoing draft with the key in their own USB token, which never
// leaves their PC, in two phases:
//
//  1. Prepare (server): for the draft's current version (the SHA-256 of its main PDF), the leader's
//     certificate (sent by the local agent, see package agent), the appearance (image, page, rect) and a
//     signing time fixed now, pades.Prepare builds the signature revision with its zero-filled /Contents
//     and the CMS signed attributes. Everything is stored in PostgreSQL (table sign_session) under an
//     opaque single-use id that expires after a few minutes, bound to the user, the document version and
//     the certificate. The answer is what must be signed (the DER signed attributes and their digest) and
//     a human summary (document number, subject, hash) for the agent to show.
//  2. The agent shows the summary, asks for confirmation and the PIN, and signs the digest with the token.
//  3. Complete (server): only for that id, that user and that certificate, and only once before expiry,
//     pades.Complete embeds the signature into exactly the stored bytes (nothing is rebuilt), the result
//     is checked with signing/verify, stored as the draft's signed version (workflow.SignOutgoing, which
//     moves the draft to "signed" and writes its audit record) and the id is spent in the same step.
//
// Only the leader the draft was sent to (SendToLeader, table sign_request) may prepare or complete.
//
// The government signing service (VGCA-style plugins that sign whole files over a local WebSocket) is
// served by file tickets (CreateTicket): a download URL and an upload URL, each a random token stored
// only as its hash, bound to the document version and the user, single use, expiring with the ticket.
// An uploaded file is accepted only when it is the served bytes followed by revisions that add a
// signature and nothing else that could change what is shown, the new signature verifies, and (when the
// ticket names one) it was made with the expected certificate.
package remote
