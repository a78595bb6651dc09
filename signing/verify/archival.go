package verify

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/lienthong/lienthong/signing/cms"
)

// oidAdbeRevocation is Adobe's adbe-revocationInfoArchival signed attribute: Acrobat and the
// signing tools of many CAs put the signer's CRLs and OCSP responses inside the CMS with it.
var oidAdbeRevocation = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}

// adobeRevocation extracts the CRLs and OCSP responses of an adbe-revocationInfoArchival attribute:
//
//	RevocationInfoArchival ::= SEQUENCE {
//	  crl          [0] EXPLICIT SEQUENCE OF CRLs OPTIONAL,
//	  ocsp         [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL,
//	  otherRevInfo [2] EXPLICIT SEQUENCE OF OtherRevInfo OPTIONAL }
func adobeRevocation(si *cms.SignerInfo) evidence {
	var ev evidence
	for _, a := range si.Signed {
		if !a.Type.Equal(oidAdbeRevocation) {
			continue
		}
		for _, v := range a.Values {
			s := cryptobyte.String(v)
			var seq cryptobyte.String
			if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
				continue
			}
			for !seq.Empty() {
				var field cryptobyte.String
				var tag cbasn1.Tag
				if !seq.ReadAnyASN1(&field, &tag) {
					break
				}
				var list cryptobyte.String
				if !field.ReadASN1(&list, cbasn1.SEQUENCE) {
					continue
				}
				for !list.Empty() {
					var item cryptobyte.String
					if !list.ReadASN1Element(&item, cbasn1.SEQUENCE) {
						break
					}
					switch tag {
					case cbasn1.Tag(0).Constructed().ContextSpecific():
						ev.crls = append(ev.crls, append([]byte{}, item...))
					case cbasn1.Tag(1).Constructed().ContextSpecific():
						ev.ocsps = append(ev.ocsps, append([]byte{}, item...))
					}
				}
			}
		}
	}
	return ev
}
