package tlsconf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 (RFC 5208 EncryptedPrivateKeyInfo) with PBES2 (RFC
// 8018): PBKDF2 with an HMAC-SHA PRF, then AES-CBC or 3DES-CBC. This is
// what "openssl pkcs8 -topk8" and current Java write; the older PBES1
// schemes are refused.

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}

	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3   = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KDF    algorithmIdentifier
	Scheme algorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

// maxPBKDF2Iterations bounds the work a key store can ask for.
const maxPBKDF2Iterations = 10_000_000

// decryptPKCS8 returns the PKCS#8 PrivateKeyInfo inside an encrypted one.
func decryptPKCS8(der, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed encrypted private key")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted private key: algorithm %v is not supported (only PBES2)", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("encrypted private key: key derivation %v is not supported (only PBKDF2)", params.KDF.Algorithm)
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations {
		return nil, fmt.Errorf("encrypted private key: PBKDF2 iteration count %d out of range", kdf.Iterations)
	}
	var prf func() hash.Hash
	switch p := kdf.PRF.Algorithm; {
	case len(p) == 0, p.Equal(oidHMACSHA1):
		prf = sha1.New
	case p.Equal(oidHMACSHA224):
		prf = sha256.New224
	case p.Equal(oidHMACSHA256):
		prf = sha256.New
	case p.Equal(oidHMACSHA384):
		prf = sha512.New384
	case p.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("encrypted private key: PRF %v is not supported", p)
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case s.Equal(oidDESEDE3):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("encrypted private key: cipher %v is not supported", s)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, errors.New("encrypted private key: key length does not fit the cipher")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed cipher parameters")
	}
	key, err := pbkdf2.Key(prf, string(password), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("encrypted private key: %w", err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	if len(iv) != bs || len(info.EncryptedData) == 0 || len(info.EncryptedData)%bs != 0 {
		return nil, errors.New("malformed encrypted private key data")
	}
	out := make([]byte, len(info.EncryptedData))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.EncryptedData)
	// PKCS#5 padding; a wrong password almost always breaks it
	n := int(out[len(out)-1])
	if n < 1 || n > bs {
		return nil, errors.New("encrypted private key: wrong password")
	}
	for _, b := range out[len(out)-n:] {
		if int(b) != n {
			return nil, errors.New("encrypted private key: wrong password")
		}
	}
	return out[:len(out)-n], nil
}

// encryptPKCS8 encrypts a PrivateKeyInfo with PBES2 (PBKDF2-HMAC-SHA256,
// AES-256-CBC); salt and iv come from the caller. Tests use it to write
// encrypted PEM key stores.
func encryptPKCS8(der, password, salt, iv []byte, iterations int) ([]byte, error) {
	key, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(der)%aes.BlockSize
	plain := append(append([]byte(nil), der...), make([]byte, n)...)
	for i := len(der); i < len(plain); i++ {
		plain[i] = byte(n)
	}
	enc := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(enc, plain)
	raw := func(v any) asn1.RawValue {
		b, err2 := asn1.Marshal(v)
		if err2 != nil {
			err = err2
		}
		return asn1.RawValue{FullBytes: b}
	}
	kdf := raw(pbkdf2Params{Salt: salt, Iterations: iterations, KeyLength: 32,
		PRF: algorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.RawValue{FullBytes: asn1.NullBytes}}})
	params := raw(pbes2Params{
		KDF:    algorithmIdentifier{Algorithm: oidPBKDF2, Parameters: kdf},
		Scheme: algorithmIdentifier{Algorithm: oidAES256CBC, Parameters: raw(iv)},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     algorithmIdentifier{Algorithm: oidPBES2, Parameters: params},
		EncryptedData: enc,
	})
}
