package ledger

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/mod/sumdb/note"
)

// SM2 checkpoint keys (decision 0022).
//
// C2SP signed-note reserves signature type 0xff for types it has not
// assigned, to be followed by a longer identifier. Shuqiao's SM2 type is
//
//	sm2Type = 0xff || "shuqiao/sm2-sm3"
//
// and its keys are written like the note package's Ed25519 keys:
//
//	verifier key: <name>+<hash>+base64(sm2Type || 65-byte uncompressed public point 04||X||Y)
//	private key:  PRIVATE+KEY+<name>+<hash>+base64(sm2Type || 32-byte big-endian scalar D)
//
// where <hash> is 8 lowercase hex digits of the key ID, the first four bytes
// (big-endian) of SHA-256(name || 0x0A || sm2Type || public point), as C2SP
// recommends. A signature is the ASN.1 DER SM2 signature (GB/T 32918.2) of
// the note text, hashed with SM3 over Z_A computed with the default user id
// "1234567812345678"; the note carries it as base64(key ID || signature).
const sm2Type = "\xffshuqiao/sm2-sm3"

const (
	algEd25519 = 1 // C2SP signed-note type of Ed25519
)

func sm2KeyHash(name string, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte(sm2Type))
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

func marshalSM2Public(pub *ecdsa.PublicKey) []byte {
	//nolint:staticcheck // the SM2 curve has no crypto/ecdh encoding in the standard library
	return elliptic.Marshal(pub.Curve, pub.X, pub.Y)
}

// GenerateSM2Key returns a new SM2 note key pair named name, in the format
// described above.
func GenerateSM2Key(r io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("ledger: invalid key name %q", name)
	}
	if r == nil {
		r = rand.Reader
	}
	priv, err := sm2.GenerateKey(r)
	if err != nil {
		return "", "", err
	}
	pub := marshalSM2Public(&priv.PublicKey)
	h := sm2KeyHash(name, pub)
	d := make([]byte, 32)
	priv.D.FillBytes(d)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte(sm2Type), d...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte(sm2Type), pub...)))
	return skey, vkey, nil
}

type sm2Signer struct {
	name string
	hash uint32
	priv *sm2.PrivateKey
}

func (s *sm2Signer) Name() string    { return s.name }
func (s *sm2Signer) KeyHash() uint32 { return s.hash }
func (s *sm2Signer) Sign(msg []byte) ([]byte, error) {
	return s.priv.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, nil))
}

type sm2Verifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

func (v *sm2Verifier) Name() string    { return v.name }
func (v *sm2Verifier) KeyHash() uint32 { return v.hash }
func (v *sm2Verifier) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(v.pub, nil, msg, sig)
}

// splitKey splits "<name>+<hash>+<base64>" and checks the parts' form.
func splitKey(key string) (name string, hash uint32, data []byte, err error) {
	name, rest, ok1 := strings.Cut(key, "+")
	hash16, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validKeyName(name) || len(hash16) != 8 {
		return "", 0, nil, errors.New("malformed key")
	}
	h, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil {
		return "", 0, nil, errors.New("malformed key hash")
	}
	data, err = base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 {
		return "", 0, nil, errors.New("malformed key data")
	}
	return name, uint32(h), data, nil
}

// NewSM2Verifier parses an SM2 verifier key.
func NewSM2Verifier(vkey string) (note.Verifier, error) {
	name, hash, data, err := splitKey(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: SM2 verifier key: %w", err)
	}
	pubBytes, ok := strings.CutPrefix(string(data), sm2Type)
	if !ok || len(pubBytes) != 65 {
		return nil, errors.New("ledger: SM2 verifier key: not an SM2 key")
	}
	curve := sm2.P256()
	//nolint:staticcheck // see marshalSM2Public
	x, y := elliptic.Unmarshal(curve, []byte(pubBytes))
	if x == nil {
		return nil, errors.New("ledger: SM2 verifier key: invalid point")
	}
	if sm2KeyHash(name, []byte(pubBytes)) != hash {
		return nil, errors.New("ledger: SM2 verifier key: key hash does not match")
	}
	return &sm2Verifier{name: name, hash: hash, pub: &ecdsa.PublicKey{Curve: curve, X: x, Y: y}}, nil
}

// NewSM2Signer parses an SM2 private key.
func NewSM2Signer(skey string) (note.Signer, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("ledger: SM2 private key: missing PRIVATE+KEY+ prefix")
	}
	name, hash, data, err := splitKey(rest)
	if err != nil {
		return nil, fmt.Errorf("ledger: SM2 private key: %w", err)
	}
	dBytes, ok := strings.CutPrefix(string(data), sm2Type)
	if !ok || len(dBytes) != 32 {
		return nil, errors.New("ledger: SM2 private key: not an SM2 key")
	}
	curve := sm2.P256()
	d := new(big.Int).SetBytes([]byte(dBytes))
	n := curve.Params().N
	if d.Sign() == 0 || d.Cmp(new(big.Int).Sub(n, big.NewInt(1))) >= 0 {
		return nil, errors.New("ledger: SM2 private key: scalar out of range")
	}
	priv := new(sm2.PrivateKey)
	priv.Curve = curve
	priv.D = d
	//nolint:staticcheck // ScalarBaseMult is the only public way to derive the SM2 public point
	priv.X, priv.Y = curve.ScalarBaseMult([]byte(dBytes))
	if sm2KeyHash(name, marshalSM2Public(&priv.PublicKey)) != hash {
		return nil, errors.New("ledger: SM2 private key: key hash does not match")
	}
	return &sm2Signer{name: name, hash: hash, priv: priv}, nil
}

// NewVerifier parses a checkpoint verifier key of either algorithm: an
// Ed25519 key as golang.org/x/mod/sumdb/note writes it, or an SM2 key.
func NewVerifier(vkey string) (note.Verifier, error) {
	_, _, data, err := splitKey(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: verifier key: %w", err)
	}
	if data[0] == algEd25519 {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("ledger: verifier key: %w", err)
		}
		return v, nil
	}
	return NewSM2Verifier(vkey)
}

// NewSigner parses a checkpoint private key of either algorithm.
func NewSigner(skey string) (note.Signer, Algorithm, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, "", errors.New("ledger: private key: missing PRIVATE+KEY+ prefix")
	}
	_, _, data, err := splitKey(rest)
	if err != nil {
		return nil, "", fmt.Errorf("ledger: private key: %w", err)
	}
	if data[0] == algEd25519 {
		s, err := note.NewSigner(skey)
		if err != nil {
			return nil, "", fmt.Errorf("ledger: private key: %w", err)
		}
		return s, Ed25519, nil
	}
	s, err := NewSM2Signer(skey)
	return s, SM2, err
}

// verifierKeyOf returns the verifier key matching a private key.
func verifierKeyOf(skey string) (string, error) {
	rest, _ := strings.CutPrefix(skey, "PRIVATE+KEY+")
	name, hash, data, err := splitKey(rest)
	if err != nil {
		return "", err
	}
	if data[0] == algEd25519 {
		if len(data) != 1+ed25519.SeedSize {
			return "", errors.New("malformed Ed25519 private key")
		}
		pub := ed25519.NewKeyFromSeed(data[1:]).Public().(ed25519.PublicKey)
		vkey, err := note.NewEd25519VerifierKey(name, pub)
		if err != nil {
			return "", err
		}
		if _, h, _, err := splitKey(vkey); err != nil || h != hash {
			return "", errors.New("Ed25519 private key: key hash does not match")
		}
		return vkey, nil
	}
	s, err := NewSM2Signer(skey)
	if err != nil {
		return "", err
	}
	pub := marshalSM2Public(&s.(*sm2Signer).priv.PublicKey)
	return fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte(sm2Type), pub...))), nil
}
