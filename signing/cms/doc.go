// Package cms writes and reads the CMS SignedData (RFC 5652) that PDF signatures (PAdES,
// ETSI.CAdES.detached) and detached .p7s signatures on attachments carry.
//
// The encoder is written for signers that only expose crypto.Signer (PKCS#11 tokens, remote USB
// tokens): it never needs the private key, never adds a signing-time attribute (PAdES baseline keeps
// the time in /M) and signs exactly three attributes: content-type, message-digest and
// ESS signing-certificate-v2. The two-phase helpers (BuildSignedAttributes, Assemble) let a remote
// agent sign the hash of the signed attributes while the server keeps everything else.
//
// The decoder accepts BER (indefinite lengths, constructed strings: NSS writes them) by normalising
// to DER first, and keeps the signed attributes exactly as signed, so the signature check does not
// depend on how a re-encoder would sort or shorten them.
package cms
