// Package verify validates signatures and explains each one, following the shape of the EU DSS
// validation report (ETSI EN 319 102-1): an indication (TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE)
// with a sub-indication, the signer, the signing time, the PAdES level reached, the coverage, and a
// list of checks with stable ids.
//
// For PDFs (PDF) it checks, per signature: the structure (ByteRange shape and gap, /Contents a
// well-formed CMS with one SignerInfo), the integrity (digest over the byte ranges, streamed so memory
// does not grow with the file; signature over the signed attributes; ESS signing-certificate), the
// certificates (chain to the configured trust anchors at the signing time, key usage, revocation from
// embedded or, when allowed, fetched OCSP/CRL data), timestamps, and every change made after the
// signature: each object added, changed or removed in a later revision is classified, and anything
// that could alter what the signer saw (page content, resources, fonts, the page tree, the catalog,
// the form, annotations over content) fails the signature. That is how incremental-saving, shadow and
// certification attacks, which popular viewers accept, are caught.
//
// Detached checks a detached CMS signature over an attachment the same way, without the PDF parts.
package verify
