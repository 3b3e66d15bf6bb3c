package wire

import "fmt"

// Header layout (vl1.md §4.1).
const (
	IdxPacketID    = 0
	IdxDestination = 8
	IdxSource      = 13
	IdxFlags       = 18
	IdxMAC         = 19
	IdxVerb        = 27
	IdxPayload     = 28

	HeaderLength    = IdxVerb // bytes before the encrypted envelope
	MinPacketLength = IdxPayload
)

// Flag byte bits (vl1.md §4.2).
const (
	flagEncryptedLegacy = 0x80
	FlagFragmented      = 0x40
	flagCipherMask      = 0x38
	flagHopsMask        = 0x07

	verbCompressed = 0x80
	verbMask       = 0x1f
)

// Sizes (vl1.md §4.6).
const (
	DefaultPort          = 9993
	DefaultPhysMTU       = 1432
	MinPhysMTU           = 1400
	MaxPhysMTU           = 10324
	MaxPacketLength      = 10024
	MaxPacketFragments   = 7
	MinFragmentLength    = 16
	FragmentHeaderLength = 16
	MaxHops              = 7
	RelayMaxHops         = 3
	// compressMinPayload: 1.14.1 does not try to compress payloads of 64
	// bytes or less.
	compressMinPayload = 64
)

// CipherSuite is the 3-bit cipher field of the flag byte (vl1.md §4.3).
type CipherSuite uint8

// Cipher suites.
const (
	SuitePoly1305None    CipherSuite = 0 // MAC only (HELLO)
	SuitePoly1305Salsa20 CipherSuite = 1 // Salsa20/12 + Poly1305
	SuiteTrustedPath     CipherSuite = 2 // no crypto, trusted path ID in the MAC field
	SuiteAESGMACSIV      CipherSuite = 3
)

func (c CipherSuite) String() string {
	switch c {
	case SuitePoly1305None:
		return "poly1305"
	case SuitePoly1305Salsa20:
		return "salsa2012-poly1305"
	case SuiteTrustedPath:
		return "trusted-path"
	case SuiteAESGMACSIV:
		return "aes-gmac-siv"
	}
	return fmt.Sprintf("suite%d", uint8(c))
}

// Verb is a packet's 5-bit verb number (vl1.md §7).
type Verb uint8

// Verbs.
const (
	VerbNOP                    Verb = 0x00
	VerbHELLO                  Verb = 0x01
	VerbERROR                  Verb = 0x02
	VerbOK                     Verb = 0x03
	VerbWHOIS                  Verb = 0x04
	VerbRENDEZVOUS             Verb = 0x05
	VerbFRAME                  Verb = 0x06
	VerbEXT_FRAME              Verb = 0x07
	VerbECHO                   Verb = 0x08
	VerbMULTICAST_LIKE         Verb = 0x09
	VerbNETWORK_CREDENTIALS    Verb = 0x0a
	VerbNETWORK_CONFIG_REQUEST Verb = 0x0b
	VerbNETWORK_CONFIG         Verb = 0x0c
	VerbMULTICAST_GATHER       Verb = 0x0d
	VerbMULTICAST_FRAME        Verb = 0x0e
	VerbPUSH_DIRECT_PATHS      Verb = 0x10
	VerbACK                    Verb = 0x12
	VerbQOS_MEASUREMENT        Verb = 0x13
	VerbUSER_MESSAGE           Verb = 0x14
	VerbREMOTE_TRACE           Verb = 0x15
	VerbPATH_NEGOTIATION       Verb = 0x16
)

var verbNames = [32]string{
	VerbNOP: "NOP", VerbHELLO: "HELLO", VerbERROR: "ERROR", VerbOK: "OK", VerbWHOIS: "WHOIS",
	VerbRENDEZVOUS: "RENDEZVOUS", VerbFRAME: "FRAME", VerbEXT_FRAME: "EXT_FRAME", VerbECHO: "ECHO",
	VerbMULTICAST_LIKE: "MULTICAST_LIKE", VerbNETWORK_CREDENTIALS: "NETWORK_CREDENTIALS",
	VerbNETWORK_CONFIG_REQUEST: "NETWORK_CONFIG_REQUEST", VerbNETWORK_CONFIG: "NETWORK_CONFIG",
	VerbMULTICAST_GATHER: "MULTICAST_GATHER", VerbMULTICAST_FRAME: "MULTICAST_FRAME",
	VerbPUSH_DIRECT_PATHS: "PUSH_DIRECT_PATHS", VerbACK: "ACK", VerbQOS_MEASUREMENT: "QOS_MEASUREMENT",
	VerbUSER_MESSAGE: "USER_MESSAGE", VerbREMOTE_TRACE: "REMOTE_TRACE",
	VerbPATH_NEGOTIATION: "PATH_NEGOTIATION_REQUEST",
}

func (v Verb) String() string {
	if int(v) < len(verbNames) && verbNames[v] != "" {
		return verbNames[v]
	}
	return fmt.Sprintf("VERB_%#02x", uint8(v))
}

// IsVL2 reports whether the verb belongs to VL2 (virtual Ethernet), which VL1
// hands up without interpreting.
func (v Verb) IsVL2() bool {
	switch v {
	case VerbFRAME, VerbEXT_FRAME, VerbMULTICAST_LIKE, VerbNETWORK_CREDENTIALS,
		VerbNETWORK_CONFIG_REQUEST, VerbNETWORK_CONFIG, VerbMULTICAST_GATHER, VerbMULTICAST_FRAME:
		return true
	}
	return false
}

// ErrorCode is the code of an ERROR packet (vl1.md §6.3, vl2.md §2.9).
type ErrorCode uint8

// Error codes.
const (
	ErrorNone                 ErrorCode = 0x00
	ErrorInvalidRequest       ErrorCode = 0x01
	ErrorBadProtocolVersion   ErrorCode = 0x02
	ErrorObjectNotFound       ErrorCode = 0x03
	ErrorIdentityCollision    ErrorCode = 0x04
	ErrorUnsupportedOperation ErrorCode = 0x05
	ErrorNeedMembershipCert   ErrorCode = 0x06
	ErrorNetworkAccessDenied  ErrorCode = 0x07
	ErrorUnwantedMulticast    ErrorCode = 0x08
	ErrorNetworkAuthRequired  ErrorCode = 0x09
)

var errorNames = [...]string{
	"NONE", "INVALID_REQUEST", "BAD_PROTOCOL_VERSION", "OBJ_NOT_FOUND", "IDENTITY_COLLISION",
	"UNSUPPORTED_OPERATION", "NEED_MEMBERSHIP_CERTIFICATE", "NETWORK_ACCESS_DENIED",
	"UNWANTED_MULTICAST", "NETWORK_AUTHENTICATION_REQUIRED",
}

func (e ErrorCode) String() string {
	if int(e) < len(errorNames) {
		return errorNames[e]
	}
	return fmt.Sprintf("ERROR_%#02x", uint8(e))
}
